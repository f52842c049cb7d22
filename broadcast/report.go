package broadcast

import (
	"cmp"
	"context"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/whatsapp"
)

// Report is a broadcast's funnel. Rates are computed on the effective audience: the recipients
// actually on WhatsApp (the audience less the skipped and those Meta says are not on WhatsApp).
type Report struct {
	Audience int64            `json:"audience"`
	Skipped  map[string]int64 `json:"skipped"` // by reason: opted_out, expired, cancelled, …
	Waiting  int64            `json:"waiting"` // pending: not yet due, held, or paused
	// HeldByTier of those wait for the portfolio's messaging tier, the next until TierNextAt;
	// they go as slots of the moving 24 h free.
	HeldByTier int64            `json:"held_by_tier"`
	TierNextAt *time.Time       `json:"tier_next_at,omitempty"`
	Queued     int64            `json:"queued"`
	Sending    int64            `json:"sending"`
	Sent       int64            `json:"sent"` // Meta took it (and maybe more followed)
	Delivered  int64            `json:"delivered"`
	Read       int64            `json:"read"`
	Replied    int64            `json:"replied"`
	Failed     map[string]int64 `json:"failed"`   // by Meta error code, or reason when there is none
	Unknown    int64            `json:"unknown"`  // Meta may or may not have taken it
	NotSent    int64            `json:"not_sent"` // was unknown; Meta's later statuses showed it never took it
	// UnknownSettled counts the sends that were unknown (a worker died, a call timed out) by how
	// they were settled: settled_by_webhook, requeued_before_send, not_sent_after_grace.
	UnknownSettled map[string]int64 `json:"unknown_settled"`

	Effective    int64    `json:"effective_audience"`
	DeliveryRate *float64 `json:"delivery_rate"`
	ReadRate     *float64 `json:"read_rate"`
	ReplyRate    *float64 `json:"reply_rate"`
	Progress     float64  `json:"progress"` // share of the audience with a final outcome
	ETASeconds   *int64   `json:"eta_seconds"`
	// ByPath splits the sent messages by the endpoint they went through ("messages": Cloud API,
	// "marketing_messages": the Marketing Messages API); those sent before Dripcast recorded it
	// are under "messages".
	ByPath map[string]*PathFunnel `json:"by_path"`
	// Retries is what the broadcast's retry policy did; nil without one (or with "off").
	Retries *RetryReport `json:"retries,omitempty"`
	// retried counts what the funnel rows say of the retries, for Retries.
	retried RetryReport
}

// PathFunnel is the funnel of the messages one path took.
type PathFunnel struct {
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Read      int64 `json:"read"`
	Failed    int64 `json:"failed"`
}

// countPath adds a funnel row of sent messages to its path's funnel.
func (r *Report) countPath(row queries.BroadcastFunnelRow) {
	if row.WithSent == 0 && row.DeliveryPath == "" {
		return // never sent
	}
	path := cmp.Or(row.DeliveryPath, whatsapp.EndpointMessages)
	f := r.ByPath[path]
	if f == nil {
		f = &PathFunnel{}
		r.ByPath[path] = f
	}
	switch row.Status {
	case queries.MessageStatusRead:
		f.Read += row.N
		f.Delivered += row.N
	case queries.MessageStatusDelivered:
		f.Delivered += row.N
	case queries.MessageStatusFailed:
		f.Failed += row.N
	}
	f.Sent += row.WithSent
}

// countRetries adds a funnel row to the retries' counts: messages a retry delivered, and those
// waiting for one.
func (r *Report) countRetries(row queries.BroadcastFunnelRow) {
	switch {
	case row.Status == queries.MessageStatusDelivered || row.Status == queries.MessageStatusRead:
		r.retried.DeliveredByRetry += row.Retried
	case row.Status == queries.MessageStatusPending && row.Reason == "retry":
		r.retried.Waiting += row.N
	}
}

// RetryReport is what a broadcast's retries did: a log of the attempts (the first retry is
// attempt 1), how many messages a retry delivered, and how many wait for one (the next at
// NextAt; they count in Waiting too).
type RetryReport struct {
	Log              []RetryAttempt `json:"log"`
	DeliveredByRetry int64          `json:"delivered_by_retry"`
	Waiting          int64          `json:"waiting"`
	NextAt           *time.Time     `json:"next_at,omitempty"`
}

// RetryAttempt is one attempt number's retries: how many went, from when to when.
type RetryAttempt struct {
	Attempt int       `json:"attempt"`
	Count   int64     `json:"count"`
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
}

// NotOnWhatsApp is the code of messages to numbers without WhatsApp.
const NotOnWhatsApp = 131026

// NewReport sums the funnel rows; sentLastMinute gives the pace for the ETA.
func NewReport(rows []queries.BroadcastFunnelRow, sentLastMinute int64) Report {
	r := Report{Skipped: map[string]int64{}, Failed: map[string]int64{}, UnknownSettled: map[string]int64{}, ByPath: map[string]*PathFunnel{}}
	var notOnWA int64
	for _, row := range rows {
		r.countPath(row)
		r.countRetries(row)
		r.Audience += row.N
		r.Replied += row.Replied
		if how := settledNames[row.Settled]; how != "" {
			r.UnknownSettled[how] += row.N
		}
		switch row.Status {
		case queries.MessageStatusSkipped:
			r.Skipped[row.Reason] += row.N
		case queries.MessageStatusPending:
			r.Waiting += row.N
			if row.Reason == "tier" {
				r.HeldByTier += row.N
			}
		case queries.MessageStatusQueued:
			r.Queued += row.N
		case queries.MessageStatusSending:
			r.Sending += row.N
		case queries.MessageStatusUnknown:
			r.Unknown += row.N
		case queries.MessageStatusNotSent:
			r.NotSent += row.N
		case queries.MessageStatusRead:
			r.Read += row.N
			r.Delivered += row.N
		case queries.MessageStatusDelivered:
			r.Delivered += row.N
		case queries.MessageStatusFailed:
			key := row.Reason
			if row.ErrorCode != 0 {
				key = strconv.Itoa(int(row.ErrorCode))
			}
			r.Failed[key] += row.N
			if row.ErrorCode == NotOnWhatsApp {
				notOnWA += row.N
			}
		}
		if row.Status == queries.MessageStatusSent || row.Status == queries.MessageStatusDelivered || row.Status == queries.MessageStatusRead {
			r.Sent += row.N
		} else if row.Status == queries.MessageStatusFailed {
			r.Sent += row.WithSent
		}
	}
	var skipped int64
	for _, n := range r.Skipped {
		skipped += n
	}
	r.Effective = r.Audience - skipped - notOnWA
	if r.Effective > 0 {
		r.DeliveryRate = rate(r.Delivered, r.Effective)
		r.ReadRate = rate(r.Read, r.Effective)
		r.ReplyRate = rate(r.Replied, r.Effective)
	}
	remaining := r.Waiting + r.Queued + r.Sending
	if r.Audience > 0 {
		r.Progress = float64(r.Audience-remaining) / float64(r.Audience)
	}
	if remaining > 0 && sentLastMinute > 0 {
		eta := remaining * 60 / sentLastMinute
		r.ETASeconds = &eta
	}
	return r
}

// UnknownSettledTotal is how many sends that were unknown were settled, however.
func (r Report) UnknownSettledTotal() int64 {
	var n int64
	for _, k := range r.UnknownSettled {
		n += k
	}
	return n
}

// settledNames are the report's names of the unknown_resolution values.
var settledNames = map[string]string{"webhook": "settled_by_webhook", "requeued": "requeued_before_send", "grace": "not_sent_after_grace"}

func rate(n, of int64) *float64 {
	v := float64(n) / float64(of)
	return &v
}

// LoadReport counts b's funnel from its messages (so it is always exact).
func LoadReport(ctx context.Context, q *queries.Queries, b queries.Broadcast) (Report, error) {
	rows, err := q.BroadcastFunnel(ctx, queries.BroadcastFunnelParams{AccountID: b.AccountID, BroadcastID: &b.ID})
	if err != nil {
		return Report{}, err
	}
	pace, err := q.SentInLastMinute(ctx, queries.SentInLastMinuteParams{AccountID: b.AccountID, BroadcastID: &b.ID})
	if err != nil {
		return Report{}, err
	}
	r := NewReport(rows, pace)
	if r.HeldByTier > 0 {
		next, err := q.TierHeldNext(ctx, queries.TierHeldNextParams{AccountID: b.AccountID, BroadcastID: &b.ID})
		if err != nil {
			return Report{}, err
		}
		r.TierNextAt = &next
	}
	if policy.DecodeRetry(b.RetryPolicy).On() {
		if r.Retries, err = loadRetries(ctx, q, b, r.retried); err != nil {
			return Report{}, err
		}
	}
	return r, nil
}

// loadRetries completes the retries' counts with their log and when the next goes.
func loadRetries(ctx context.Context, q *queries.Queries, b queries.Broadcast, r RetryReport) (*RetryReport, error) {
	log, err := q.RetryLog(ctx, queries.RetryLogParams{AccountID: b.AccountID, BroadcastID: b.ID})
	if err != nil {
		return nil, err
	}
	r.Log = make([]RetryAttempt, 0, len(log))
	for _, a := range log {
		r.Log = append(r.Log, RetryAttempt{Attempt: int(a.Attempt), Count: a.N, FirstAt: a.FirstAt, LastAt: a.LastAt})
	}
	if r.Waiting > 0 {
		next, err := q.NextRetry(ctx, queries.NextRetryParams{AccountID: b.AccountID, BroadcastID: &b.ID})
		if err != nil {
			return nil, err
		}
		if len(next) > 0 {
			r.NextAt = &next[0]
		}
	}
	return &r, nil
}
