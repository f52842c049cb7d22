package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/batch"
	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/templates"
	"github.com/dripcast/dripcast/whatsapp"
)

// Sender handles send tasks: claim the row, check the contact and the limits, render, send,
// record. The claim (queued → sending) is what makes an at-least-once queue send at most once.
// Claims and sent records of concurrent handlers are batched: one statement for each batch.
type Sender struct {
	q       *queries.Queries
	client  *whatsapp.Client
	limits  *ratelimit.Limiter
	secrets *secrets.Box
	log     *slog.Logger
	metrics *metrics.Sending
	heart   *Heart
	claims  *batch.Batcher[int64, claim]
	sent    *batch.Batcher[sentRecord, struct{}]
	parsed  parsedTemplates
}

// message is a claimed message with everything its send needs.
type message = queries.ClaimMessagesRow

// claim is one message's answer from a batch of claims: found is false when it was not claimed.
type claim struct {
	m     message
	found bool
}

type sentRecord struct {
	id          int64
	wamid, path string // path: the endpoint it went through (whatsapp.EndpointMessages, EndpointMarketing)
}

// Batches of claims and of sent records: one statement of each at a time, for up to 200 handlers.
// While one runs the next batch gathers; two runners made smaller batches and fewer sends/s
// (BenchmarkSends).
const (
	batchRunners = 1
	batchMax     = 200
)

// When a number's limit binds, handlers wake one by one for their slots and batches held one or
// two requests: a statement each, and Postgres spent three times the CPU a send (BenchmarkSends,
// 2c). A small batch waits a few milliseconds for more; its sends wait longer for their slots
// anyway, and under load batches are large and never wait.
const (
	batchLingerBelow = 16
	batchLinger      = 10 * time.Millisecond
)

// NewSender wires a send handler; its claims and waiting sends are recorded under heart.
func NewSender(pool *pgxpool.Pool, client *whatsapp.Client, limits *ratelimit.Limiter, box *secrets.Box, log *slog.Logger, m *metrics.Sending,
	heart *Heart) *Sender {
	s := &Sender{q: queries.New(pool), client: client, limits: limits, secrets: box, log: log, metrics: m, heart: heart}
	s.claims = batch.New(batchRunners, batchMax, s.claimBatch)
	s.sent = batch.New(batchRunners, batchMax, s.sentBatch)
	s.claims.LingerBelow, s.claims.Linger, s.claims.Split = batchLingerBelow, batchLinger, db.RowError
	s.sent.LingerBelow, s.sent.Linger, s.sent.Split = batchLingerBelow, batchLinger, db.RowError
	return s
}

func (s *Sender) claimBatch(ctx context.Context, ids []int64) ([]claim, error) {
	at := time.Now().Truncate(time.Microsecond) // Postgres keeps microseconds
	rows, err := s.q.ClaimMessages(ctx, queries.ClaimMessagesParams{Ids: ids, ClaimedAt: at, WorkerID: s.heart.ID()})
	if err != nil {
		if !isSQLError(err) && !pgconn.SafeToRetry(err) { // sent, then the connection failed: it may have committed
			err = errors.Join(err, retryWrite(ctx, func(ctx context.Context) error {
				return s.q.UnclaimMessages(ctx, queries.UnclaimMessagesParams{Ids: ids, ClaimedAt: at})
			}))
		}
		return nil, err
	}
	byID := make(map[int64]message, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	// A message asked for twice in one batch (two tasks of one message) is claimed for one of them.
	out := make([]claim, len(ids))
	for i, id := range ids {
		out[i].m, out[i].found = byID[id]
		delete(byID, id)
	}
	return out, nil
}

func (s *Sender) sentBatch(ctx context.Context, recs []sentRecord) ([]struct{}, error) {
	p := queries.SentMessagesParams{Ids: make([]int64, len(recs)), Wamids: make([]string, len(recs)), Paths: make([]string, len(recs))}
	for i, r := range recs {
		p.Ids[i], p.Wamids[i], p.Paths[i] = r.id, r.wamid, r.path
	}
	return make([]struct{}, len(recs)), s.q.SentMessages(ctx, p)
}

// count records a send's outcome.
func (s *Sender) count(m message, outcome string) {
	s.metrics.Sends.WithLabelValues(metrics.Channel(m.ChannelID), m.Category, outcome).Inc()
}

// ProcessTask implements asynq.Handler.
func (s *Sender) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, err := sendtask.MessageID(t.Payload())
	if err != nil {
		return err
	}
	c, err := s.claims.Do(id)
	if err != nil {
		return fmt.Errorf("claim message %d: %w", id, err)
	}
	if !c.found {
		// Not queued any more (done, or another worker has it), or its broadcast stopped: then it
		// waits in pending for a resume.
		return s.q.UnqueueStopped(ctx, id)
	}
	return s.send(ctx, c.m)
}

func (s *Sender) send(ctx context.Context, m message) error {
	checked := time.Now() // the claim saw the campaign running
	switch {
	case m.ChannelStatus != "active":
		return s.release(ctx, m, time.Now())
	case m.TemplateStatus != "approved":
		return s.holdForTemplate(ctx, m, m.TemplateStatus)
	case m.Category == "marketing" && !m.OptedIn:
		s.count(m, "skipped")
		return s.q.SkipMessage(ctx, queries.SkipMessageParams{ID: m.ID, Reason: ptr("opted_out"), ClaimedAt: m.ClaimedAt})
	}
	settings, _ := policy.ParseSettings(m.AccountSettings) // malformed settings: the defaults
	capped, err := s.cappedRetry(ctx, m, settings)
	if err != nil {
		return errors.Join(err, s.release(ctx, m, time.Time{}))
	}
	if capped {
		s.count(m, "skipped")
		return s.q.SkipMessage(ctx, queries.SkipMessageParams{ID: m.ID, Reason: ptr("frequency_cap"), ClaimedAt: m.ClaimedAt})
	}
	comps, err := s.render(m)
	if err != nil {
		return s.q.FailMessage(ctx, queries.FailMessageParams{ID: m.ID, Reason: ptr("render_failed"), ClaimedAt: m.ClaimedAt})
	}
	token, err := s.secrets.Open(m.AccessTokenEnc, secrets.ChannelToken(m.PhoneNumberID))
	if err != nil {
		return s.stopChannel(ctx, m, "access token cannot be decrypted")
	}
	var rateCap int32
	if m.RateCap != nil {
		rateCap = *m.RateCap
	}
	tier := 0
	if m.TierLimit != nil {
		tier = int(*m.TierLimit)
	}
	to := m.Phone[1:] // WhatsApp ids are E.164 without the +
	limit := ratelimit.Send{PhoneNumberID: m.PhoneNumberID, Portfolio: m.PortfolioID,
		MPS: ratelimit.EffectiveMPS(m.ThroughputMps, settings.RateFactor(m.QualityRating, m.Category), rateCap), Tier: tier, Recipient: to,
		InServiceWindow: m.InServiceWindow, Slotted: func(wake time.Time) { s.heart.Waits(m.ID, wake) }}
	defer s.heart.Forget(m.ID)
	d, err := s.limits.Acquire(ctx, limit)
	if err != nil {
		return errors.Join(err, s.release(ctx, m, time.Time{}))
	}
	channel := metrics.Channel(m.ChannelID)
	if !d.Allowed {
		s.metrics.LimitDecisions.WithLabelValues(channel, d.Reason).Inc()
		return s.wait(ctx, m, d)
	}
	s.metrics.LimitDecisions.WithLabelValues(channel, "allowed").Inc()
	tpl := whatsapp.NewTemplate(m.TemplateName, m.Language, comps)
	res, err := s.write(ctx, m, d, token, to, tpl)
	// Woken or written too late for its slot, a send takes the next one rather than go out with
	// the next second's sends; nothing reached Meta. So does a send the worker's recorded
	// heartbeats do not vouch for yet (errUnvouched).
	for late := 1; errors.Is(err, whatsapp.ErrLate) || errors.Is(err, errUnvouched); late++ {
		s.metrics.LimitDecisions.WithLabelValues(channel, lateDecision(err)).Inc()
		if late > maxLate { // back to the queue: the task is tried again
			return s.wait(ctx, m, ratelimit.Decision{Reason: "late", RetryAfter: 100 * time.Millisecond})
		}
		// A new slot may be a while off: a campaign paused since the claim (or the last look)
		// sends nothing more. Not at every late wake: a starved machine wakes late hundreds of
		// times a second, and a query each made it more starved.
		if time.Since(checked) > recheckAfter {
			if ok, err := s.q.MayStillSend(ctx, m.ID); err != nil || !ok {
				return errors.Join(err, s.release(ctx, m, time.Now()))
			}
			checked = time.Now()
		}
		if d, err = s.limits.Again(ctx, limit); err != nil {
			return errors.Join(err, s.release(ctx, m, time.Time{}))
		}
		res, err = s.write(ctx, m, d, token, to, tpl)
	}
	if errors.Is(err, errFenced) { // handed back if still ours (then tried again), else the scheduler settles it
		return s.wait(ctx, m, ratelimit.Decision{Reason: "fenced", RetryAfter: 100 * time.Millisecond})
	}
	if endpoint(m) == whatsapp.EndpointMarketing && whatsapp.MarketingRefused(err) {
		return s.refuseMarketing(ctx, m, err)
	}
	if err != nil {
		return s.failed(ctx, m, err)
	}
	s.count(m, "sent")
	kind := "broadcast"
	if m.SequenceID != nil {
		kind = "drip"
	}
	s.metrics.SendDelay.WithLabelValues(channel, kind).Observe(time.Since(m.DueAt).Seconds())
	_, err = s.sent.Do(sentRecord{id: m.ID, wamid: res.WAMID, path: endpoint(m)})
	if db.RowError(err) {
		return s.setAsideSent(ctx, m, res.WAMID, err)
	}
	return err
}

// cappedRetry tells whether a retry of a marketing message would pass the account's frequency cap:
// a first send was held to it when its broadcast expanded, a retry days later is held to it now.
func (s *Sender) cappedRetry(ctx context.Context, m message, settings policy.Settings) (bool, error) {
	c := settings.FrequencyCap
	if m.Retries == 0 || m.Category != "marketing" || c == nil {
		return false, nil
	}
	n, err := s.q.MarketingSentSince(ctx, queries.MarketingSentSinceParams{AccountID: m.AccountID, ContactID: m.ContactID, Days: int32(c.Days)})
	return n >= int64(c.Max), err
}

// endpoint is the one a message goes through (whatsapp.EndpointFor).
func endpoint(m message) string { return whatsapp.EndpointFor(m.Category, m.MarketingMessages) }

// refuseMarketing notes on the channel that Meta refused it the Marketing Messages API, so its
// marketing templates go through Cloud API from now on, and hands the message back to go that way
// in a slot of its own (Meta did not take it: the refusal comes before).
func (s *Sender) refuseMarketing(ctx context.Context, m message, cause error) error {
	ctx = context.WithoutCancel(ctx)
	n, err := s.q.RefuseMarketingMessages(ctx, queries.RefuseMarketingMessagesParams{ID: m.ChannelID, Note: cause.Error()})
	if err != nil {
		return errors.Join(err, s.release(ctx, m, time.Time{}))
	}
	if n > 0 {
		s.log.Warn("Meta refused the channel the Marketing Messages API: its marketing templates go through Cloud API", "channel", m.ChannelID, "err", cause)
	}
	return s.wait(ctx, m, ratelimit.Decision{Reason: "marketing_refused", RetryAfter: 100 * time.Millisecond})
}

// lateDecision names why a send took a new slot: it woke or was written too late ("late"), or
// its worker's recorded heartbeats did not vouch for its slot yet ("unvouched": a beat was slow).
func lateDecision(err error) string {
	if errors.Is(err, errUnvouched) {
		return "unvouched"
	}
	return "late"
}

// write sends the message in its slot, if the worker's heartbeats vouch for that slot.
func (s *Sender) write(ctx context.Context, m message, d ratelimit.Decision, token, to string, tpl whatsapp.Template) (whatsapp.SendResult, error) {
	if err := s.heart.MayWrite(m.ID); err != nil {
		return whatsapp.SendResult{}, err
	}
	ctx, callback := whatsapp.WriteBy(ctx, d.SendBy), sendtask.Callback(m.ID, int(m.Retries))
	if endpoint(m) == whatsapp.EndpointMarketing {
		return s.client.SendMarketingTemplate(ctx, token, m.PhoneNumberID, to, tpl, callback)
	}
	return s.client.SendTemplate(ctx, token, m.PhoneNumberID, to, tpl, callback)
}

// setAsideSent keeps a sent record Postgres refused alone (its wamid already taken, say) in
// set_aside, and records the message sent without it: Meta has it, and it must not wait in
// sending for the sweep.
func (s *Sender) setAsideSent(ctx context.Context, m message, wamid string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	s.log.Warn("sent record set aside", "message", m.ID, "err", cause)
	s.metrics.SetAside.WithLabelValues("sent").Inc()
	payload, _ := json.Marshal(map[string]string{"wamid": wamid})
	if err := s.q.SetAside(ctx, queries.SetAsideParams{Batch: "sent", MessageID: m.ID, ChannelID: m.ChannelID, Payload: payload, Error: cause.Error()}); err != nil {
		return err
	}
	return s.q.SentWithoutWAMID(ctx, queries.SentWithoutWAMIDParams{ID: m.ID, Path: new(endpoint(m))})
}

// recheckAfter is how long a send that keeps missing its slots goes on without looking again that
// its campaign still runs: with a new slot at most SlotHorizon on, a pause stops it within 0.75 s.
const recheckAfter = 250 * time.Millisecond

// maxLate bounds the slots one send may miss before it goes back to the queue (a machine so
// starved that every wake is late).
const maxLate = 5

// render fills the template for the contact and the event of a drip step, with the campaign's
// overrides of the mapping.
func (s *Sender) render(m message) ([]whatsapp.Component, error) {
	t, err := s.parsed.template(m)
	if err != nil {
		return nil, err
	}
	var event, attrs map[string]any
	if err := json.Unmarshal(m.Event, &event); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(m.Attributes, &attrs); err != nil {
		return nil, err
	}
	out, err := t.Render(templates.Recipient{Name: m.Name, Email: m.Email, Phone: m.Phone, Country: m.Country, Attributes: attrs}, event)
	return out.Components, err
}

// parsedTemplates keeps the last parsing of each template with a campaign's overrides: a
// broadcast's sends all carry the same, and parsing them again took a twentieth of the worker's
// CPU. An entry serves only a message whose template and overrides are byte for byte the ones it
// was parsed from (an edit since shows in the claim's answer).
type parsedTemplates struct {
	mu sync.Mutex
	m  map[int64]parsedTemplate // by template id
}

type parsedTemplate struct {
	components, parameters, overrides []byte
	t                                 *templates.Template // read only: Render does not change it
}

// parsedTemplatesMax bounds the cache: beyond it, it starts again.
const parsedTemplatesMax = 1024

func (p *parsedTemplates) template(m message) (*templates.Template, error) {
	p.mu.Lock()
	e, ok := p.m[m.TemplateID]
	p.mu.Unlock()
	if ok && bytes.Equal(e.components, m.Components) && bytes.Equal(e.parameters, m.TemplateParameters) && bytes.Equal(e.overrides, m.Parameters) {
		return e.t, nil
	}
	t := &templates.Template{}
	var overrides templates.Mapping
	if err := json.Unmarshal(m.Components, &t.Components); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(m.TemplateParameters, &t.Parameters); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(m.Parameters, &overrides); err != nil {
		return nil, err
	}
	maps.Copy(t.Parameters, overrides)
	p.mu.Lock()
	if p.m == nil || len(p.m) >= parsedTemplatesMax {
		p.m = map[int64]parsedTemplate{}
	}
	p.m[m.TemplateID] = parsedTemplate{components: m.Components, parameters: m.TemplateParameters, overrides: m.Parameters, t: t}
	p.mu.Unlock()
	return t, nil
}

// wait handles a send the limits hold back: throughput and pair rate retry the task soon; a full
// tier holds the message until a slot frees (the scheduler's tier-wait job spreads the held).
func (s *Sender) wait(ctx context.Context, m message, d ratelimit.Decision) error {
	if d.Reason == ratelimit.ReasonTier { // held (reason tier) until a slot of the moving 24 h frees
		return retryWrite(ctx, func(ctx context.Context) error {
			return s.q.HoldForTier(ctx, queries.HoldForTierParams{ID: m.ID, DueAt: time.Now().Add(d.RetryAfter), ClaimedAt: m.ClaimedAt})
		})
	}
	if err := s.release(ctx, m, time.Time{}); err != nil {
		return err
	}
	return &RateLimited{RetryIn: d.RetryAfter, Reason: d.Reason}
}

// release hands back a claimed message that was not sent: to the queue (a retry of its task
// follows), or, with until set, to pending until then. Left in sending, a message would end
// unknown though Meta never got it, so the write outlasts a lost connection (retryWrite).
func (s *Sender) release(ctx context.Context, m message, until time.Time) error {
	return retryWrite(ctx, func(ctx context.Context) error {
		if until.IsZero() {
			return s.q.RequeueMessage(ctx, queries.RequeueMessageParams{ID: m.ID, ClaimedAt: m.ClaimedAt})
		}
		return s.q.DeferMessage(ctx, queries.DeferMessageParams{ID: m.ID, DueAt: until, ClaimedAt: m.ClaimedAt})
	})
}

// retryWrite runs an idempotent write until Postgres takes it or refuses the statement itself, for
// up to 30 s: a restart or failover of Postgres is waited out. It runs after the task's context
// ends too.
func retryWrite(ctx context.Context, write func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := write(ctx)
		if err == nil || isSQLError(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// isSQLError tells an error Postgres answered (the statement ran, or was refused) from a lost or
// failed connection, after which the statement's outcome is unknown.
func isSQLError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// failed records what Meta's error means for this message, its broadcast and its channel.
func (s *Sender) failed(ctx context.Context, m message, err error) error {
	ctx = context.WithoutCancel(ctx) // the outcome must be written even when the task's time is up
	c := whatsapp.Classify(err)
	code := errorCode(err)
	s.log.Info("send failed", "message", m.ID, "to", phone.Masked(m.Phone), "class", c.Class.String(), "code", code)
	if code != 0 {
		s.metrics.MetaErrors.WithLabelValues(fmt.Sprint(code)).Inc()
	}
	s.count(m, outcome(c.Class))
	switch c.Class {
	case whatsapp.RateLimited:
		s.limits.SlowDown(m.PhoneNumberID)
		if err := s.release(ctx, m, time.Time{}); err != nil {
			return err
		}
		return &RateLimited{RetryIn: c.RetryAfter, Reason: fmt.Sprint("meta ", code)}
	case whatsapp.RetryNow:
		return errors.Join(err, s.release(ctx, m, time.Time{}))
	case whatsapp.RetryLater:
		return s.release(ctx, m, time.Now().Add(c.RetryAfter))
	case whatsapp.Ambiguous:
		// Meta may have taken it: never sent again blindly. A status webhook carrying the
		// message id settles it.
		return s.q.UnknownMessage(ctx, queries.UnknownMessageParams{ID: m.ID, Reason: ptr("ambiguous_send"), ClaimedAt: m.ClaimedAt})
	case whatsapp.StopStep:
		if code == codeTemplatePaused {
			return s.holdForTemplate(ctx, m, "paused")
		}
		return s.stopStep(ctx, m, code)
	case whatsapp.StopChannel:
		return s.stopChannel(ctx, m, fmt.Sprintf("Meta error %d", code))
	}
	if c.OptOut {
		if err := s.q.OptOutContact(ctx, queries.OptOutContactParams{ContactID: m.ContactID, Source: "meta_131050"}); err != nil {
			return err
		}
	}
	return s.q.FailMessage(ctx, queries.FailMessageParams{ID: m.ID, ErrorCode: &code, Reason: ptr("meta_error"), ClaimedAt: m.ClaimedAt})
}

// codeTemplatePaused is Meta's answer for a paused template: wait for it, the message is not at
// fault.
const codeTemplatePaused = 132015

// stopStep fails the message and pauses its campaign: every other send of it would fail the same.
func (s *Sender) stopStep(ctx context.Context, m message, code int32) error {
	reason := fmt.Sprintf("meta_error_%d", code)
	if err := s.q.FailMessage(ctx, queries.FailMessageParams{ID: m.ID, ErrorCode: &code, Reason: &reason, ClaimedAt: m.ClaimedAt}); err != nil {
		return err
	}
	return s.pauseCampaign(ctx, m, policy.Automatic(policy.PausedForMetaError, reason))
}

// holdForTemplate keeps the message for later and pauses its campaign until Meta approves the
// template again (the webhook resumes campaigns paused for "template …").
func (s *Sender) holdForTemplate(ctx context.Context, m message, status string) error {
	if err := s.release(ctx, m, time.Now()); err != nil {
		return err
	}
	return s.pauseCampaign(ctx, m, policy.Automatic(policy.PausedForTemplate(status), "template "+status))
}

// pauseCampaign pauses the message's broadcast or sequence.
func (s *Sender) pauseCampaign(ctx context.Context, m message, p policy.Pause) error {
	switch {
	case m.SequenceID != nil:
		return policy.PauseSequence(ctx, s.q, m.AccountID, *m.SequenceID, p)
	case m.BroadcastID != nil:
		return policy.PauseBroadcast(ctx, s.q, m.AccountID, *m.BroadcastID, p)
	}
	return nil
}

// stopChannel pauses the number and its broadcasts; the message waits for them to resume.
func (s *Sender) stopChannel(ctx context.Context, m message, reason string) error {
	if err := s.q.PauseChannel(ctx, queries.PauseChannelParams{ID: m.ChannelID, Reason: reason}); err != nil {
		return err
	}
	p := policy.Automatic(policy.PausedForChannel, "channel: "+reason)
	if err := s.q.PauseBroadcastsOfChannel(ctx, queries.PauseBroadcastsOfChannelParams{ChannelID: m.ChannelID, Reason: p.Reason,
		PauseCause: p.Cause.Column()}); err != nil {
		return err
	}
	return s.release(ctx, m, time.Now())
}

// outcome names what an error class does to a message, for the sends metric.
func outcome(c whatsapp.Class) string {
	switch c {
	case whatsapp.RateLimited:
		return "rate_limited"
	case whatsapp.RetryNow:
		return "retry"
	case whatsapp.RetryLater:
		return "deferred"
	case whatsapp.Ambiguous:
		return "unknown"
	}
	return "failed"
}

func errorCode(err error) int32 {
	var api *whatsapp.APIError
	if errors.As(err, &api) {
		return int32(api.Code)
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

// PortfolioUsage reads what the shared limiter needs to rebuild a portfolio's state after Redis
// lost it.
func PortfolioUsage(pool *pgxpool.Pool) ratelimit.UsageFunc {
	q := queries.New(pool)
	return func(ctx context.Context, portfolio int64) (ratelimit.Usage, error) {
		rows, err := q.PortfolioUsage(ctx, portfolio)
		if err != nil {
			return ratelimit.Usage{}, err
		}
		u := ratelimit.Usage{Reached: make([]ratelimit.Reached, len(rows))}
		for i, r := range rows {
			u.Reached[i] = ratelimit.Reached{Recipient: r.Recipient, At: r.At}
			u.Busy = u.Busy || r.Busy
		}
		return u, nil
	}
}
