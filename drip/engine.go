package drip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

// Engine enrolls contacts and advances their enrollments. Its scheduler side (events, due steps)
// runs on the scheduler leader only; Enroll also serves the API.
type Engine struct {
	pool    *pgxpool.Pool
	q       *queries.Queries
	clock   clock.Clock
	log     *slog.Logger
	metrics *metrics.Sending
}

// batchSize is how many due enrollments one transaction advances.
const batchSize = 1000

// New wires an engine.
func New(pool *pgxpool.Pool, clk clock.Clock, log *slog.Logger, m *metrics.Sending) *Engine {
	return &Engine{pool: pool, q: queries.New(pool), clock: clk, log: log, metrics: m}
}

// now is the engine's time, to the microsecond: Postgres keeps microseconds and rounds, so a step
// time with nanoseconds could be stored a little later than the instant that should find it due.
func (e *Engine) now() time.Time { return e.clock.Now().Truncate(time.Microsecond) }

// Clock is the engine's clock (scaled in demos and tests), which the scheduler's retry job shares.
func (e *Engine) Clock() clock.Clock { return e.clock }

// Sequence is one version of a sequence, ready to enroll into.
type Sequence struct {
	ID, AccountID int64
	Version       int32
	Def           *Definition
}

// Why a contact was not enrolled.
const (
	NotStartCondition = "start_condition_not_met"
	NotAgain          = "already_enrolled"
	NotCooling        = "cooling_period"
)

// Enroll puts a contact into a sequence when its start condition and re-entry rules allow: the
// new enrollment's id, or 0 and the reason it was refused. The caller counts it (Enrolled) once
// its transaction commits.
func (e *Engine) Enroll(ctx context.Context, db queries.DBTX, s Sequence, contactID int64, props map[string]any,
	eventID *int64) (int64, string, error) {
	q := queries.New(db)
	if r := s.Def.StartCondition; r != nil {
		ok, err := segment.Matching(ctx, db, s.AccountID, *r, []int64{contactID})
		if err != nil || !ok[contactID] {
			return 0, NotStartCondition, err
		}
	}
	now := e.now()
	last, err := q.LastEnrollment(ctx, queries.LastEnrollmentParams{SequenceID: s.ID, ContactID: contactID})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return 0, "", err
	case s.Def.Once() || last.Status == queries.EnrollmentStatusActive || last.Status == queries.EnrollmentStatusPaused:
		return 0, NotAgain, nil
	case s.Def.ReentryAfter != nil && s.Def.ReentryAfter.After(last.EnrolledAt, time.UTC).After(now):
		return 0, NotCooling, nil
	}
	zone, err := q.ContactZone(ctx, queries.ContactZoneParams{AccountID: s.AccountID, ID: contactID})
	if err != nil {
		return 0, "", err
	}
	if props == nil {
		props = map[string]any{}
	}
	raw, err := json.Marshal(props)
	if err != nil {
		return 0, "", err
	}
	first := s.Def.RunAt(0, now, now, s.Def.Location(zone))
	id, err := q.Enroll(ctx, queries.EnrollParams{AccountID: s.AccountID, SequenceID: s.ID, Version: s.Version,
		ContactID: contactID, NextRunAt: &first, Properties: raw, EnrolledAt: now, EventID: eventID})
	if errors.Is(err, pgx.ErrNoRows) { // an open enrollment was written in the meantime
		return 0, NotAgain, nil
	}
	return id, "", err
}

// Enrolled counts enrollments once their transaction committed.
func (e *Engine) Enrolled(n int) { e.metrics.Enrollments.Add(float64(n)) }

// ProcessEvents enrolls the contacts of new events into the sequences they trigger and ends the
// enrollments they stop. Each event is handled in its own transaction; one that fails is tried
// again on the next ticks, five times in all.
func (e *Engine) ProcessEvents(ctx context.Context) (int, error) {
	events, err := e.q.PendingEvents(ctx, 500)
	if err != nil {
		return 0, err
	}
	for _, ev := range events {
		enrolled := 0
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			q := e.q.WithTx(tx)
			var err error
			if enrolled, err = e.processEvent(ctx, q, tx, ev); err != nil {
				return err
			}
			return q.FinishEvent(ctx, queries.FinishEventParams{ID: ev.ID})
		})
		if err == nil {
			e.Enrolled(enrolled)
		} else {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			e.log.Warn("event not processed", "event", ev.ID, "name", ev.Name, "err", err)
			if err := e.q.FinishEvent(ctx, queries.FinishEventParams{ID: ev.ID, Error: err.Error()}); err != nil {
				return 0, err
			}
		}
	}
	return len(events), nil
}

// processEvent enrolls and exits for one event and says how many contacts it enrolled.
func (e *Engine) processEvent(ctx context.Context, q *queries.Queries, tx pgx.Tx, ev queries.Event) (int, error) {
	if ev.ContactID == nil {
		return 0, errors.New("the event has no contact")
	}
	var props map[string]any
	if err := json.Unmarshal(ev.Properties, &props); err != nil {
		return 0, fmt.Errorf("properties: %w", err)
	}
	seqs, err := q.SequencesForEvent(ctx, queries.SequencesForEventParams{AccountID: ev.AccountID, Event: ev.Name})
	if err != nil {
		return 0, err
	}
	enrolled := 0
	for _, row := range seqs {
		def, err := Parse(row.Definition)
		if err != nil {
			return 0, fmt.Errorf("sequence %d: %w", row.ID, err)
		}
		if def.Trigger == nil || !Match(def.Trigger.Filter, props) {
			continue
		}
		s := Sequence{ID: row.ID, AccountID: ev.AccountID, Version: row.Version, Def: def}
		id, _, err := e.Enroll(ctx, tx, s, *ev.ContactID, props, &ev.ID)
		if err != nil {
			return 0, fmt.Errorf("enroll in sequence %d: %w", row.ID, err)
		}
		if id != 0 {
			enrolled++
		}
	}
	exited, err := q.ExitOnEvent(ctx, queries.ExitOnEventParams{ContactID: *ev.ContactID, Event: ev.Name})
	if err != nil || len(exited) == 0 {
		return enrolled, err
	}
	return enrolled, q.SkipUnsentSteps(ctx, exited)
}

// Advance runs the steps that are due, a batch per transaction, until none is due or a second
// has passed (the next tick goes on). It returns how many step messages it wrote.
func (e *Engine) Advance(ctx context.Context) (int, error) {
	total := 0
	start := time.Now()
	for time.Since(start) < time.Second {
		n, more, err := e.advanceBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
	return total, nil
}

// advanceBatch handles one batch of due enrollments: more says the batch was full.
func (e *Engine) advanceBatch(ctx context.Context) (written int, more bool, err error) {
	now := e.now()
	var outcomes []string // counted once the batch commits
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		q := e.q.WithTx(tx)
		due, err := q.DueEnrollments(ctx, queries.DueEnrollmentsParams{Now: now, Lim: batchSize})
		if err != nil || len(due) == 0 {
			return err
		}
		more = len(due) == batchSize
		items, err := e.prepare(ctx, q, tx, due)
		if err != nil {
			return err
		}
		var msgs []stepMessage
		var advances []advance
		var exited []int64 // their unsent steps are dropped
		for _, it := range items {
			msg, adv := it.decide(now)
			outcomes = append(outcomes, outcome(msg, adv))
			if msg != nil {
				msgs = append(msgs, *msg)
			}
			if adv.Status == queries.EnrollmentStatusExited && !adv.keepUnsent {
				exited = append(exited, adv.ID)
			}
			advances = append(advances, adv)
		}
		written, err = e.write(ctx, q, now, msgs, advances, exited)
		return err
	})
	if err == nil {
		for _, o := range outcomes {
			e.metrics.DripSteps.WithLabelValues(o).Inc()
		}
	}
	return written, more, err
}

// write stores a batch's decisions and returns how many step messages it wrote.
func (e *Engine) write(ctx context.Context, q *queries.Queries, now time.Time, msgs []stepMessage, advances []advance, exited []int64) (int, error) {
	written := 0
	if len(msgs) > 0 {
		raw, err := json.Marshal(msgs)
		if err != nil {
			return 0, err
		}
		n, err := q.InsertStepMessages(ctx, raw)
		if err != nil {
			return 0, err
		}
		written = int(n)
	}
	raw, err := json.Marshal(advances)
	if err != nil {
		return 0, err
	}
	if _, err := q.AdvanceEnrollments(ctx, queries.AdvanceEnrollmentsParams{Rows: raw, Now: now}); err != nil {
		return 0, err
	}
	if len(exited) > 0 {
		err = q.SkipUnsentSteps(ctx, exited)
	}
	return written, err
}

// outcome names a decision for the steps metric.
func outcome(msg *stepMessage, adv advance) string {
	switch {
	case msg != nil && msg.Status == queries.MessageStatusSkipped:
		return "skipped"
	case msg != nil:
		return "sent"
	case adv.Status == queries.EnrollmentStatusActive:
		return "waiting"
	}
	return string(adv.Status) // exited, completed
}

// item is a due enrollment with what its decision needs.
type item struct {
	row       queries.DueEnrollmentsRow
	def       *Definition
	success   bool                  // the success stop rules match the contact
	failure   bool                  // the failure stop rules match
	condition bool                  // the step's condition matches (true when it has none)
	last      queries.MessageStatus // status of the latest step message that was not skipped by its condition
	marketing bool                  // the step sends a marketing template
	// origin is when the previous step's message was sent (delivered, if the sequence requires
	// it) on the engine's clock; nil while it is on its way, or when the previous step sent none.
	origin  *time.Time
	waiting bool // the previous step's message is not sent yet
}

// prepare parses each definition once and evaluates the batch's rules with one query per rule.
func (e *Engine) prepare(ctx context.Context, q *queries.Queries, db segment.Querier, due []queries.DueEnrollmentsRow) ([]*item, error) {
	defs := map[[2]int64]*Definition{}
	items := make([]*item, 0, len(due))
	var ids []int64
	rules := newRuleBatch()
	for _, r := range due {
		key := [2]int64{r.SequenceID, int64(r.Version)}
		def, ok := defs[key]
		if !ok {
			var err error
			if def, err = Parse(r.Definition); err != nil {
				return nil, fmt.Errorf("sequence %d version %d: %w", r.SequenceID, r.Version, err)
			}
			defs[key] = def
		}
		it := &item{row: r, def: def, condition: true}
		items = append(items, it)
		ids = append(ids, r.ID)
		rules.add(r, "success", def.Exit.Success.rules(), &it.success)
		rules.add(r, "failure", def.Exit.Failure.rules(), &it.failure)
		if int(r.NextStep) < len(def.Steps) {
			rules.add(r, fmt.Sprintf("step%d", r.NextStep), def.Steps[r.NextStep].Condition, &it.condition)
		}
	}
	if err := rules.run(ctx, db); err != nil {
		return nil, err
	}
	if err := markMarketing(ctx, q, items); err != nil {
		return nil, err
	}
	last, err := q.LastStepMessages(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]queries.LastStepMessagesRow, len(last))
	for _, l := range last {
		byID[l.EnrollmentID] = l
	}
	for _, it := range items {
		l, ok := byID[it.row.ID]
		it.last = l.Status
		if ok && int(l.Step) == int(it.row.NextStep)-1 {
			it.origin, it.waiting = e.origin(l, it.def.RequireDelivered)
			// A message goes out after its step ran, though Meta's whole-second timestamps can
			// date it up to a second before (hours, on a scaled clock).
			if ran := it.row.LastStepAt; it.origin != nil && ran != nil && it.origin.Before(*ran) {
				t := *ran
				it.origin = &t
			}
		}
	}
	return items, nil
}

// origin is when a step's message went out, on the engine's clock, for the next step's delay to
// count from: sent, or delivered when the sequence requires it (a delivery the webhook reports
// without a sent status counts as sent). waiting says it has not gone out yet.
func (e *Engine) origin(l queries.LastStepMessagesRow, delivered bool) (*time.Time, bool) {
	switch l.Status {
	case queries.MessageStatusPending, queries.MessageStatusQueued, queries.MessageStatusSending:
		return nil, true
	}
	at := l.SentAt
	if delivered || at == nil {
		at = l.DeliveredAt
	}
	if at == nil {
		return nil, false // failed, skipped or unknown: the step's own time stands
	}
	t := e.clock.Of(*at)
	return &t, false
}

// markMarketing notes which items' next step sends a marketing template.
func markMarketing(ctx context.Context, q *queries.Queries, items []*item) error {
	var ids []int64
	for _, it := range items {
		if step := int(it.row.NextStep); step < len(it.def.Steps) {
			ids = append(ids, it.def.Steps[step].TemplateID)
		}
	}
	cats, err := q.TemplateCategories(ctx, ids)
	if err != nil {
		return err
	}
	marketing := map[int64]bool{}
	for _, c := range cats {
		marketing[c.ID] = c.Category == "marketing"
	}
	for _, it := range items {
		if step := int(it.row.NextStep); step < len(it.def.Steps) {
			it.marketing = marketing[it.def.Steps[step].TemplateID]
		}
	}
	return nil
}

// stepMessage is a message row InsertStepMessages writes.
type stepMessage struct {
	AccountID    int64                 `json:"account_id"`
	ChannelID    int64                 `json:"channel_id"`
	ContactID    int64                 `json:"contact_id"`
	TemplateID   int64                 `json:"template_id"`
	EnrollmentID int64                 `json:"enrollment_id"`
	Step         int                   `json:"step"`
	Status       queries.MessageStatus `json:"status"`
	Reason       string                `json:"reason,omitempty"`
	Context      stepContext           `json:"context"`
}

// stepContext is what the worker reads besides the template: the step's parameter overrides
// and the properties of the event that enrolled the contact; ScheduledAt is the step's time on
// the engine's clock.
type stepContext struct {
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Event       json.RawMessage `json:"event"`
	ScheduledAt time.Time       `json:"scheduled_at"`
}

// advance is an enrollment row AdvanceEnrollments writes.
type advance struct {
	ID         int64                    `json:"id"`
	Status     queries.EnrollmentStatus `json:"status"`
	NextStep   int16                    `json:"next_step"`
	NextRunAt  *time.Time               `json:"next_run_at"`
	LastStepAt *time.Time               `json:"last_step_at"`
	ExitReason string                   `json:"exit_reason,omitempty"`
	ExitDetail string                   `json:"exit_detail,omitempty"`
	keepUnsent bool                     // an exit that lets the steps already written go out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// recheck is the least wait before looking again at a step whose previous one has not gone out.
const recheck = 10 * time.Second

// decide is what happens to a due enrollment now: it exits, waits, or runs its step (a message
// to send, or one skipped by the step's condition) and moves on to the next.
func (it *item) decide(now time.Time) (*stepMessage, advance) {
	r, def := it.row, it.def
	adv := advance{ID: r.ID, Status: queries.EnrollmentStatusActive, NextStep: r.NextStep, NextRunAt: r.NextRunAt, LastStepAt: r.LastStepAt}
	exit := func(reason, detail string) (*stepMessage, advance) {
		adv.Status, adv.ExitReason, adv.ExitDetail, adv.NextRunAt = queries.EnrollmentStatusExited, reason, detail, nil
		return nil, adv
	}
	step := int(r.NextStep)
	optedOut := !r.OptedIn && r.OptInChangedAt != nil && r.OptInChangedAt.After(r.EnrolledAt)
	switch {
	case def.Exit.OnOptOut && optedOut:
		return exit("opted_out", "")
	case it.success:
		return exit("success", "condition")
	case it.failure:
		return exit("failure", "condition")
	case step >= len(def.Steps):
		adv.Status, adv.NextRunAt = queries.EnrollmentStatusCompleted, nil
		return nil, adv
	}
	loc := def.Location(r.TimeZone)
	if w := def.Window(step); w != nil && !w.Open(now, loc) {
		next := w.Next(now, loc)
		adv.NextRunAt = &next
		return nil, adv
	}
	if def.RequireDelivered && it.last != "" {
		switch it.last {
		case queries.MessageStatusDelivered, queries.MessageStatusRead:
		case queries.MessageStatusFailed, queries.MessageStatusSkipped, queries.MessageStatusUnknown:
			return exit("error", "previous step "+string(it.last))
		default: // still on its way: look again in a minute, for a while
			if r.LastStepAt != nil && now.Sub(*r.LastStepAt) > DeliveryWait {
				return exit("error", "previous step not delivered")
			}
			later := now.Add(time.Minute)
			adv.NextRunAt = &later
			return nil, adv
		}
	}
	if it.marketing && !r.OptedIn {
		// Marketing needs consent, so the journey ends here; the utility steps before it still go.
		adv.keepUnsent = true
		return exit("opted_out", "no marketing consent")
	}
	// The delay counts from when the previous step went out, not from when it was due: a step
	// held by the number's rate or the tier must not shorten the wait before the next one.
	if def.Steps[step].DelayFrom != "enrollment" && step > 0 {
		switch {
		case it.waiting && !def.RequireDelivered: // it goes out at the soonest now: look again then
			at := def.RunAt(step, now, r.EnrolledAt, loc)
			if at.Before(now.Add(recheck)) {
				at = now.Add(recheck)
			}
			adv.NextRunAt = &at
			return nil, adv
		case it.origin != nil:
			// Postgres's clock may run a little ahead of this process's (a scaled clock
			// multiplies the difference): a send is never later than now.
			if at := def.RunAt(step, minTime(*it.origin, now), r.EnrolledAt, loc); at.After(now) {
				adv.NextRunAt = &at
				return nil, adv
			}
		}
	}
	s := def.Steps[step]
	msg := &stepMessage{AccountID: r.AccountID, ChannelID: r.ChannelID, ContactID: r.ContactID, TemplateID: s.TemplateID,
		EnrollmentID: r.ID, Step: step, Status: queries.MessageStatusPending,
		Context: stepContext{Event: r.Properties, ScheduledAt: now}}
	if len(s.Parameters) > 0 {
		msg.Context.Parameters, _ = json.Marshal(s.Parameters)
	}
	if !it.condition {
		msg.Status, msg.Reason = queries.MessageStatusSkipped, "condition"
	}
	adv.NextStep, adv.LastStepAt = int16(step+1), &now
	if step+1 < len(def.Steps) {
		next := def.RunAt(step+1, now, r.EnrolledAt, loc)
		adv.NextRunAt = &next
	} else {
		adv.Status, adv.NextRunAt = queries.EnrollmentStatusCompleted, nil
	}
	return msg, adv
}

// ruleBatch evaluates each distinct rule of a batch once, for all the contacts that need it.
type ruleBatch struct {
	groups map[string]*ruleGroup
}

type ruleGroup struct {
	account int64
	rule    segment.Rule
	targets map[int64][]*bool // contact → results to set
}

func newRuleBatch() *ruleBatch { return &ruleBatch{groups: map[string]*ruleGroup{}} }

func (b *ruleBatch) add(r queries.DueEnrollmentsRow, name string, rule *segment.Rule, out *bool) {
	if rule == nil {
		return
	}
	key := fmt.Sprintf("%d/%d/%s", r.SequenceID, r.Version, name)
	g, ok := b.groups[key]
	if !ok {
		g = &ruleGroup{account: r.AccountID, rule: *rule, targets: map[int64][]*bool{}}
		b.groups[key] = g
	}
	g.targets[r.ContactID] = append(g.targets[r.ContactID], out)
}

func (b *ruleBatch) run(ctx context.Context, db segment.Querier) error {
	for _, g := range b.groups {
		ids := make([]int64, 0, len(g.targets))
		for id := range g.targets {
			ids = append(ids, id)
		}
		match, err := segment.Matching(ctx, db, g.account, g.rule, ids)
		if err != nil {
			return err
		}
		for id, outs := range g.targets {
			for _, o := range outs {
				*o = match[id]
			}
		}
	}
	return nil
}
