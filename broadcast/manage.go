package broadcast

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/media"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/templates"
)

// Input is a broadcast as a person composes it: the API's body and the console's form.
type Input struct {
	Name           string            `json:"name"`
	ChannelID      int64             `json:"channel_id"`
	TemplateID     int64             `json:"template_id"`
	Parameters     templates.Mapping `json:"parameters"`
	Audience       Audience          `json:"audience"`
	DefaultCountry string            `json:"default_country"`
	SendWindow     *policy.Window    `json:"send_window"`
	Retry          *policy.Retry     `json:"retry"` // the account's default when nil
	Draft          bool              `json:"draft"`
	Timing
}

// Checked is a validated broadcast, ready to store, with its audience estimate.
type Checked struct {
	Params   queries.CreateBroadcastParams
	Estimate Estimate
}

// Check validates in against the account's channel, template and audience; now is the send time
// of a broadcast with no timing.
func Check(ctx context.Context, db *pgxpool.Pool, accountID int64, in Input, now time.Time) (Checked, error) {
	q := queries.New(db)
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return Checked{}, invalid.Field("name", "name is required, at most 200 characters")
	}
	if _, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: accountID, ID: in.ChannelID}); err != nil {
		return Checked{}, missing(err, "channel")
	}
	tpl, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: accountID, ID: in.TemplateID})
	if err != nil {
		return Checked{}, missing(err, "template")
	}
	if tpl.Status != "approved" {
		return Checked{}, invalid.Field("template_id", "the template is %s; only approved templates can be sent", tpl.Status)
	}
	merged, err := MergedTemplate(tpl, in.Parameters)
	if err != nil {
		return Checked{}, err
	}
	unreadable, err := in.Audience.Normalize(in.DefaultCountry)
	if err != nil {
		return Checked{}, err
	}
	if len(unreadable) > 0 {
		e := invalid.Field("audience.phones", "%d phone numbers are not valid", len(unreadable))
		e.Details = map[string]any{"invalid": unreadable}
		return Checked{}, e
	}
	c := Checked{Params: queries.CreateBroadcastParams{AccountID: accountID, ChannelID: in.ChannelID, TemplateID: in.TemplateID,
		Name: in.Name, Status: queries.BroadcastStatusScheduled}}
	if err := in.Timing.Apply(&c.Params, now); err != nil {
		return Checked{}, err
	}
	at := now
	if c.Params.SendAt != nil && c.Params.SendAt.After(now) {
		at = *c.Params.SendAt
	}
	if err := media.CheckRefs(ctx, q, accountID, in.ChannelID, merged, at); err != nil {
		return Checked{}, err
	}
	if in.Draft {
		c.Params.Status = queries.BroadcastStatusDraft
	}
	if in.SendWindow == nil || in.Retry == nil { // the account's quiet hours and retry policy, if it has them
		settings, err := account.Settings(ctx, q, accountID)
		if err != nil {
			return Checked{}, err
		}
		in.SendWindow = cmp.Or(in.SendWindow, settings.SendWindow)
		in.Retry = cmp.Or(in.Retry, settings.Retry)
	}
	if in.Retry != nil {
		if err := in.Retry.Validate(); err != nil {
			return Checked{}, invalid.Within("retry", err)
		}
		c.Params.RetryPolicy, _ = json.Marshal(in.Retry)
	}
	if in.SendWindow != nil {
		if c.Params.SendWindow, err = in.SendWindow.Encode(); err != nil {
			return Checked{}, invalid.Within("send_window", err)
		}
	}
	c.Params.Audience, _ = json.Marshal(in.Audience)
	if in.Parameters == nil {
		in.Parameters = templates.Mapping{}
	}
	c.Params.Parameters, _ = json.Marshal(in.Parameters)
	c.Estimate, err = EstimateAudience(ctx, db, q, accountID, in.Audience, tpl.Category == "marketing")
	if err != nil {
		return Checked{}, err
	}
	c.Params.AudienceCount = int32(c.Estimate.Matching)
	return c, c.tierOutlook(ctx, q, now)
}

// tierOutlook adds to the estimate the recipients the messaging tier would hold, when the last
// of them could go, and a warning when that is after the broadcast expires (the held ones not
// sent by then are skipped as expired).
func (c *Checked) tierOutlook(ctx context.Context, q *queries.Queries, now time.Time) error {
	p := c.Params
	t, err := q.TierOutlook(ctx, queries.TierOutlookParams{AccountID: p.AccountID, ChannelID: p.ChannelID})
	if err != nil || t.TierLimit == nil {
		return err
	}
	held := c.Estimate.Eligible - max(0, int64(*t.TierLimit)-t.Used)
	if held <= 0 {
		return nil
	}
	start := now
	if p.SendAt != nil && p.SendAt.After(now) {
		start = *p.SendAt
	}
	until := start.Add(ratelimit.TierWindow) // beyond the recipients counted now: a day after this broadcast's own
	if held <= t.Used {
		if t, err = q.TierOutlook(ctx, queries.TierOutlookParams{AccountID: p.AccountID, ChannelID: p.ChannelID, Skip: held - 1}); err != nil {
			return err
		}
		until = t.NthFree
	}
	c.Estimate.HeldByTier, c.Estimate.HeldUntil = held, &until
	if p.ExpiresAt != nil && p.ExpiresAt.Before(until) {
		c.Estimate.Warning = fmt.Sprintf("%d messages will be held by the messaging tier until about %s, after the broadcast expires at %s: those not sent by then are skipped as expired",
			held, until.UTC().Format(time.RFC3339), p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// MergedTemplate is the stored template with a campaign's parameter mapping over its own,
// validated: every placeholder has a source.
func MergedTemplate(tpl queries.Template, overrides templates.Mapping) (templates.Template, error) {
	var t templates.Template
	t.Name, t.Language, t.Category, t.Status = tpl.Name, tpl.Language, tpl.Category, tpl.Status
	if err := json.Unmarshal(tpl.Components, &t.Components); err != nil {
		return t, err
	}
	if err := json.Unmarshal(tpl.Parameters, &t.Parameters); err != nil {
		return t, err
	}
	if t.Parameters == nil {
		t.Parameters = templates.Mapping{}
	}
	for k, v := range overrides {
		t.Parameters[k] = v
	}
	return t, t.Validate()
}

// Get is one broadcast of the account.
func Get(ctx context.Context, db *pgxpool.Pool, account, id int64) (queries.Broadcast, error) {
	b, err := queries.New(db).GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: account, ID: id})
	return b, missing(err, "broadcast")
}

// Create checks in and stores it with its audit entry.
func Create(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in Input, now time.Time) (b queries.Broadcast, c Checked, err error) {
	if c, err = Check(ctx, db, by.AccountID, in, now); err != nil {
		return b, c, err
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if b, err = q.CreateBroadcast(ctx, c.Params); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "broadcast.create", "broadcast", b.ID, nil, ViewOf(b))
	})
	return b, c, err
}

// Update replaces a broadcast that has not started with in, checked ("draft": false schedules a
// draft).
func Update(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, in Input, now time.Time) (b queries.Broadcast, c Checked, err error) {
	before, err := Get(ctx, db, by.AccountID, id)
	if err != nil {
		return b, c, err
	}
	if before.Status != queries.BroadcastStatusDraft && before.Status != queries.BroadcastStatusScheduled {
		return b, c, stateConflict("edited", before.Status)
	}
	if c, err = Check(ctx, db, by.AccountID, in, now); err != nil {
		return b, c, err
	}
	cp := c.Params
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		b, err = q.UpdateScheduledBroadcast(ctx, queries.UpdateScheduledBroadcastParams{Status: cp.Status, Name: cp.Name, ChannelID: cp.ChannelID,
			TemplateID: cp.TemplateID, Audience: cp.Audience, Parameters: cp.Parameters, SendAt: cp.SendAt, LocalDate: cp.LocalDate,
			LocalTime: cp.LocalTime, SendWindow: cp.SendWindow, RateCap: cp.RateCap, ExpiresAt: cp.ExpiresAt, AudienceCount: cp.AudienceCount,
			RetryPolicy: cp.RetryPolicy, AccountID: by.AccountID, ID: before.ID})
		if errors.Is(err, pgx.ErrNoRows) {
			return stateConflict("edited", "started")
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "broadcast.update", "broadcast", b.ID, ViewOf(before), ViewOf(b))
	})
	return b, c, err
}

func stateConflict(action string, status queries.BroadcastStatus) error {
	return invalid.Conflict("a %s broadcast cannot be %s", status, action)
}

// The actions a person takes on a broadcast.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionCancel = "cancel"
)

// Act pauses, resumes or cancels a broadcast. Resume continues where the pause stopped: running if
// it had started, else scheduled. Cancel also cancels the messages not yet sent.
func Act(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, action string) (queries.Broadcast, error) {
	before, err := Get(ctx, db, by.AccountID, id)
	if err != nil {
		return before, err
	}
	var from []queries.BroadcastStatus
	var to queries.BroadcastStatus
	switch action {
	case ActionPause:
		from, to = []queries.BroadcastStatus{queries.BroadcastStatusScheduled, queries.BroadcastStatusRunning}, queries.BroadcastStatusPaused
	case ActionResume:
		from, to = []queries.BroadcastStatus{queries.BroadcastStatusPaused}, queries.BroadcastStatusScheduled
		if before.StartedAt != nil {
			to = queries.BroadcastStatusRunning
		}
	case ActionCancel:
		from = []queries.BroadcastStatus{queries.BroadcastStatusDraft, queries.BroadcastStatusScheduled, queries.BroadcastStatusRunning,
			queries.BroadcastStatusPaused}
		to = queries.BroadcastStatusCancelled
	default:
		return before, fmt.Errorf("unknown broadcast action %q", action)
	}
	return move(ctx, db, by, before, action, from, to)
}

func move(ctx context.Context, db *pgxpool.Pool, by audit.Actor, before queries.Broadcast, action string,
	from []queries.BroadcastStatus, to queries.BroadcastStatus) (b queries.Broadcast, err error) {
	reason := ""
	if to == queries.BroadcastStatusPaused || to == queries.BroadcastStatusCancelled {
		reason = string(to) + " by " + by.Name
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		b, err = q.SetBroadcastStatus(ctx, queries.SetBroadcastStatusParams{Status: to, Reason: reason,
			PauseCause: policy.PausedByUser.Column(), AccountID: by.AccountID, ID: before.ID, FromStatuses: from})
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid.Conflict("cannot %s a %s broadcast", action, before.Status)
		}
		if err != nil {
			return err
		}
		if to == queries.BroadcastStatusCancelled {
			if _, err := q.CancelUnsent(ctx, queries.CancelUnsentParams{AccountID: by.AccountID, BroadcastID: &b.ID}); err != nil {
				return err
			}
		}
		return audit.Record(ctx, q, by, "broadcast."+action, "broadcast", b.ID, map[string]any{"status": before.Status}, map[string]any{"status": b.Status})
	})
	return b, err
}

// RetryFailed creates the broadcast Retry describes, with its audit entry.
func RetryFailed(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, now time.Time) (out queries.Broadcast, err error) {
	b, err := Get(ctx, db, by.AccountID, id)
	if err != nil {
		return out, err
	}
	params, err := Retry(ctx, queries.New(db), b, now)
	if errors.Is(err, ErrNothingToRetry) {
		return out, invalid.Conflict("%s", err.Error())
	}
	if err != nil {
		return out, err
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if out, err = q.CreateBroadcast(ctx, params); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "broadcast.retry_failed", "broadcast", out.ID, nil, ViewOf(out))
	})
	return out, err
}

// missing turns "no row" into the account's resource not being found.
func missing(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return invalid.NotFound(what)
	}
	return err
}

// View is a broadcast as the API shows it and the audit log records it.
type View struct {
	ID         int64                   `json:"id"`
	Name       string                  `json:"name"`
	ChannelID  int64                   `json:"channel_id"`
	TemplateID int64                   `json:"template_id"`
	Status     queries.BroadcastStatus `json:"status"`
	// State is the status, or WaitingForTier while a running broadcast's only unsent messages are
	// held by the messaging tier, until TierWaitUntil (when the next of them is due), or Retrying
	// while they only wait for a retry, until RetryWaitUntil.
	State          string          `json:"state"`
	TierWaitUntil  *time.Time      `json:"tier_wait_until,omitempty"`
	RetryWaitUntil *time.Time      `json:"retry_wait_until,omitempty"`
	StatusReason   string          `json:"status_reason"`
	PauseCause     *string         `json:"pause_cause"`
	Audience       json.RawMessage `json:"audience"`
	Parameters     json.RawMessage `json:"parameters"`
	SendAt         *time.Time      `json:"send_at"`
	LocalDate      *string         `json:"local_date"`
	LocalTime      *string         `json:"local_time"`
	SendWindow     *policy.Window  `json:"send_window"`
	Retry          *policy.Retry   `json:"retry"`
	RateCap        *int32          `json:"rate_cap"`
	ExpiresAt      *time.Time      `json:"expires_at"`
	AudienceCount  int32           `json:"audience_count"`
	Estimate       *Estimate       `json:"audience_estimate,omitempty"`
	RetryOf        *int64          `json:"retry_of"`
	CreatedAt      time.Time       `json:"created_at"`
	StartedAt      *time.Time      `json:"started_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
}

// WaitingForTier is the state of a running broadcast that has nothing to send until the messaging
// tier frees slots.
const WaitingForTier = "waiting_for_tier"

// Retrying is the state of a running broadcast that has nothing to send until its next retry.
const Retrying = "retrying"

// ViewOf is b as the API shows it.
func ViewOf(b queries.Broadcast) View {
	v := View{ID: b.ID, Name: b.Name, ChannelID: b.ChannelID, TemplateID: b.TemplateID, Status: b.Status,
		StatusReason: b.StatusReason, PauseCause: b.PauseCause, Audience: b.Audience, Parameters: b.Parameters, SendAt: b.SendAt, RateCap: b.RateCap,
		ExpiresAt: b.ExpiresAt, AudienceCount: b.AudienceCount, SendWindow: policy.DecodeWindow(b.SendWindow), RetryOf: b.RetryOf, CreatedAt: b.CreatedAt,
		StartedAt: b.StartedAt, FinishedAt: b.FinishedAt, State: string(b.Status), Retry: policy.DecodeRetry(b.RetryPolicy)}
	switch {
	case b.Status != queries.BroadcastStatusRunning:
	case b.TierWaitUntil != nil:
		v.State, v.TierWaitUntil = WaitingForTier, b.TierWaitUntil
	case b.RetryWaitUntil != nil:
		v.State, v.RetryWaitUntil = Retrying, b.RetryWaitUntil
	}
	if b.LocalDate.Valid && b.LocalTime.Valid {
		d := b.LocalDate.Time.Format(time.DateOnly)
		m := b.LocalTime.Microseconds / 60e6
		t := fmt.Sprintf("%02d:%02d", m/60, m%60)
		v.LocalDate, v.LocalTime = &d, &t
	}
	return v
}
