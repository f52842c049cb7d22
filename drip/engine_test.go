package drip

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/testenv"
)

// manual is a clock the test moves.
type manual struct{ t time.Time }

func (m *manual) Now() time.Time { return m.t }

func (m *manual) Of(wall time.Time) time.Time { return wall }
func (m *manual) Wall(t time.Time) time.Time  { return t }

type fixture struct {
	pool             *pgxpool.Pool
	account, channel int64
	template, seq    int64
	clock            *manual
	engine           *Engine
	metrics          *metrics.Sending
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	f := &fixture{pool: testenv.DB(t), clock: &manual{start}}
	f.metrics = metrics.New(prometheus.NewRegistry())
	f.engine = New(f.pool, f.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), f.metrics)
	f.account = f.id(t, `INSERT INTO accounts (name) VALUES ('acme') RETURNING id`)
	portfolio := f.id(t, `INSERT INTO portfolios (account_id, name) VALUES ($1, 'p') RETURNING id`, f.account)
	f.channel = f.id(t, `INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		VALUES ($1, $2, '1001', '2001', '+14155550199', '\x00', '\x00') RETURNING id`, f.account, portfolio)
	f.template = f.id(t, `INSERT INTO templates (account_id, name, language, category, components)
		VALUES ($1, 'hello', 'en', 'utility', '{"body": {"text": "hi"}}') RETURNING id`, f.account)
	return f
}

func (f *fixture) id(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var id int64
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return id
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// sequence stores an active sequence with def (template ids filled in) as version 1.
func (f *fixture) sequence(t *testing.T, def *Definition) Sequence {
	t.Helper()
	for i := range def.Steps {
		def.Steps[i].TemplateID = f.template
	}
	if err := def.Check(func(int64) string { return "utility" }); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(def)
	f.seq = f.id(t, `INSERT INTO sequences (account_id, channel_id, name, status, trigger_event) VALUES ($1, $2, 's', 'active', $3) RETURNING id`,
		f.account, f.channel, def.TriggerEvent())
	f.exec(t, `INSERT INTO sequence_versions (sequence_id, version, account_id, definition) VALUES ($1, 1, $2, $3)`, f.seq, f.account, raw)
	return Sequence{ID: f.seq, AccountID: f.account, Version: 1, Def: def}
}

func (f *fixture) contact(t *testing.T, phone string, optedIn bool) int64 {
	return f.id(t, `INSERT INTO contacts (account_id, phone, opted_in) VALUES ($1, $2, $3) RETURNING id`, f.account, phone, optedIn)
}

// advance moves the clock to at and runs the due steps.
func (f *fixture) advance(t *testing.T, at time.Time) int {
	t.Helper()
	f.clock.t = at
	n, err := f.engine.Advance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// steps reads a contact's step messages as "step:status[:reason]".
func (f *fixture) steps(t *testing.T, contact int64) string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT step || ':' || status || COALESCE(':' || reason, '') FROM messages
		WHERE contact_id = $1 ORDER BY step`, contact)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func (f *fixture) enrollment(t *testing.T, contact int64) string {
	t.Helper()
	var status, reason string
	if err := f.pool.QueryRow(context.Background(), `SELECT status, exit_reason FROM enrollments WHERE contact_id = $1`, contact).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(status+":"+reason, ":")
}

func rule(t *testing.T, s string) *Definition {
	t.Helper()
	var d Definition
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// One sequence through its branches: stop rules, step conditions, "only if the previous step was
// delivered", windows, completion.
func TestAdvance(t *testing.T) {
	t.Parallel()
	monday := time.Date(2030, 6, 3, 8, 0, 0, 0, time.UTC)
	f := newFixture(t, monday)
	seq := f.sequence(t, rule(t, `{
		"require_delivered": true, "time_zone": "UTC",
		"exit": {"success": {"rules": {"field": "tags", "op": "contains", "value": "bought"}}},
		"steps": [
			{},
			{"delay": {"amount": 1, "unit": "days"}, "condition": {"field": "opted_in", "op": "eq", "value": true}},
			{"delay": {"amount": 2, "unit": "hours"}, "send_window": {"start": "12:00", "end": "13:00"}}
		]}`))
	in, out, buyer, bounced := f.contact(t, "+14155550001", true), f.contact(t, "+14155550002", false),
		f.contact(t, "+14155550003", true), f.contact(t, "+14155550004", true)
	ctx := context.Background()
	for _, c := range []int64{in, out, buyer, bounced} {
		if id, why, err := f.engine.Enroll(ctx, f.pool, seq, c, map[string]any{"order": 7}, nil); err != nil || id == 0 {
			t.Fatalf("enroll: %d %s %v", id, why, err)
		}
	}
	if id, why, _ := f.engine.Enroll(ctx, f.pool, seq, in, nil, nil); id != 0 || why != NotAgain {
		t.Fatalf("run once: %d %s", id, why)
	}

	if n := f.advance(t, monday); n != 4 {
		t.Fatalf("step 0: %d messages", n)
	}
	f.exec(t, `UPDATE messages SET status = 'delivered' WHERE contact_id = ANY($1)`, []int64{in, out, buyer})
	f.exec(t, `UPDATE messages SET status = 'failed' WHERE contact_id = $1`, bounced)
	f.exec(t, `UPDATE contacts SET tags = '{bought}' WHERE id = $1`, buyer)
	if n := f.advance(t, monday.Add(24*time.Hour-time.Minute)); n != 0 {
		t.Fatalf("%d messages before step 1 is due", n)
	}
	f.advance(t, monday.Add(24*time.Hour))
	if f.enrollment(t, buyer) != "exited:success" || f.enrollment(t, bounced) != "exited:error" {
		t.Errorf("stop rule and failed step: %s, %s", f.enrollment(t, buyer), f.enrollment(t, bounced))
	}
	if got := f.steps(t, out); got != "0:delivered 1:skipped:condition" {
		t.Errorf("condition: %s", got)
	}
	// Step 2 is due Tuesday 10:00, its window opens at 12:00.
	if n := f.advance(t, monday.Add(26*time.Hour)); n != 0 {
		t.Errorf("%d messages outside the window", n)
	}
	f.advance(t, monday.Add(28*time.Hour))
	if got := f.steps(t, out); got != "0:delivered 1:skipped:condition 2:pending" {
		t.Errorf("after a skipped step: %s", got)
	}
	if got := f.steps(t, in); got != "0:delivered 1:pending" {
		t.Errorf("waiting for delivery: %s", got)
	}
	f.exec(t, `UPDATE messages SET status = 'delivered' WHERE contact_id = $1`, in)
	f.advance(t, monday.Add(28*time.Hour+time.Minute))
	if got := f.steps(t, in); got != "0:delivered 1:delivered 2:pending" || f.enrollment(t, in) != "completed" {
		t.Errorf("after delivery: %s, %s", got, f.enrollment(t, in))
	}
	var ctxEvent string
	if err := f.pool.QueryRow(ctx, `SELECT context -> 'event' ->> 'order' FROM messages WHERE contact_id = $1 AND step = 2`, in).Scan(&ctxEvent); err != nil || ctxEvent != "7" {
		t.Errorf("the step carries the event: %q %v", ctxEvent, err)
	}
}

// A step's delay counts from when the previous step was sent, not from when it was due: a step
// held (by the number's rate, or the tier) does not shorten the wait before the next.
func TestDelayCountsFromTheSend(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 6, 3, 8, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	seq := f.sequence(t, rule(t, `{"time_zone": "UTC", "steps": [{}, {"delay": {"amount": 15, "unit": "minutes"}}]}`))
	c := f.contact(t, "+14155550001", true)
	ctx := context.Background()
	if _, _, err := f.engine.Enroll(ctx, f.pool, seq, c, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.advance(t, start)
	if n := f.advance(t, start.Add(15*time.Minute)); n != 0 {
		t.Fatalf("step 1 written while step 0 is still pending: %s", f.steps(t, c))
	}
	f.exec(t, `UPDATE messages SET status = 'sent', sent_at = $2 WHERE contact_id = $1`, c, start.Add(20*time.Minute))
	if n := f.advance(t, start.Add(30*time.Minute)); n != 0 {
		t.Fatalf("step 1 written 10 minutes after step 0 was sent: %s", f.steps(t, c))
	}
	f.advance(t, start.Add(35*time.Minute))
	if got := f.steps(t, c); got != "0:sent 1:pending" {
		t.Errorf("15 minutes after the send: %s", got)
	}
}

// Events enroll into the sequences they trigger (with the filter) and end the ones they stop.
func TestProcessEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Now())
	f.sequence(t, rule(t, `{"trigger": {"event": "cart.abandoned", "filter": [{"property": "total", "op": "gt", "value": 10}]},
		"exit": {"failure": {"events": ["cart.emptied"]}}, "steps": [{"delay": {"amount": 1, "unit": "hours"}}]}`))
	big, small := f.contact(t, "+14155550001", true), f.contact(t, "+14155550002", true)
	event := func(contact int64, name, props string) {
		f.exec(t, `INSERT INTO events (account_id, contact_id, name, properties) VALUES ($1, $2, $3, $4)`, f.account, contact, name, props)
	}
	event(big, "cart.abandoned", `{"total": 99}`)
	event(small, "cart.abandoned", `{"total": 5}`)
	event(big, "cart.emptied", `{}`)
	f.exec(t, `INSERT INTO events (account_id, name) VALUES ($1, 'orphan')`, f.account)
	if _, err := f.engine.ProcessEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.enrollment(t, big); got != "exited:failure" {
		t.Errorf("big cart: %s", got)
	}
	var n int
	_ = f.pool.QueryRow(context.Background(), `SELECT count(*) FROM enrollments WHERE contact_id = $1`, small).Scan(&n)
	var unprocessed, failed int
	_ = f.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE processed_at IS NULL), count(*) FILTER (WHERE error <> '') FROM events`).Scan(&unprocessed, &failed)
	if n != 0 || unprocessed != 1 || failed != 1 {
		t.Errorf("small cart enrolled %d; unprocessed %d, failed %d (the orphan is retried)", n, unprocessed, failed)
	}
	if got := testutil.ToFloat64(f.metrics.Enrollments); got != 1 {
		t.Errorf("enrollments counted: %v, want 1", got)
	}
}

// The tick's query walks the partial index of due enrollments: however many contacts wait, it
// reads only the due ones.
func TestDueEnrollmentsUseTheIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Now())
	f.sequence(t, rule(t, `{"steps": [{}]}`))
	f.exec(t, `INSERT INTO contacts (account_id, phone) SELECT $1, '+1415' || lpad(i::text, 7, '0') FROM generate_series(1, 100000) i`, f.account)
	f.exec(t, `INSERT INTO enrollments (account_id, sequence_id, version, contact_id, next_run_at, enrolled_at)
		SELECT $1, $2, 1, id, now() + interval '1 day' * (id % 30 + 1), now() FROM contacts WHERE account_id = $1`, f.account, f.seq)
	f.exec(t, `ANALYZE enrollments`)
	raw, err := os.ReadFile("../sql/queries/drips.sql")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)-- name: DueEnrollments :many\n(.*?);`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("DueEnrollments not found in drips.sql")
	}
	sql := strings.NewReplacer("@now::timestamptz", "$1", "@lim", "$2").Replace(string(m[1]))
	rows, err := f.pool.Query(context.Background(), "EXPLAIN "+sql, time.Now(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var l string
		_ = rows.Scan(&l)
		lines = append(lines, l)
	}
	text := strings.Join(lines, "\n")
	if !strings.Contains(text, "enrollments_due") || strings.Contains(text, "Seq Scan on enrollments") {
		t.Errorf("the due query does not use enrollments_due:\n%s", text)
	}
	if n := f.advance(t, time.Now()); n != 0 {
		t.Errorf("%d steps ran, none is due", n)
	}
}

// Contacts keep the version they enrolled in; an edit applies to new enrollments.
func TestEnrollmentKeepsItsVersion(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 6, 3, 8, 0, 0, 0, time.UTC)
	f := newFixture(t, start)
	v1 := f.sequence(t, rule(t, `{"steps": [{}, {"delay": {"amount": 1, "unit": "hours"}}]}`))
	early, late := f.contact(t, "+14155550001", true), f.contact(t, "+14155550002", true)
	ctx := context.Background()
	if _, _, err := f.engine.Enroll(ctx, f.pool, v1, early, nil, nil); err != nil {
		t.Fatal(err)
	}
	v2 := rule(t, `{"steps": [{}]}`)
	v2.Steps[0].TemplateID = f.template
	raw, _ := json.Marshal(v2)
	f.exec(t, `INSERT INTO sequence_versions (sequence_id, version, account_id, definition) VALUES ($1, 2, $2, $3)`, f.seq, f.account, raw)
	f.exec(t, `UPDATE sequences SET version = 2 WHERE id = $1`, f.seq)
	if _, _, err := f.engine.Enroll(ctx, f.pool, Sequence{ID: f.seq, AccountID: f.account, Version: 2, Def: v2}, late, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.advance(t, start)
	f.exec(t, `UPDATE messages SET status = 'sent', sent_at = $1`, start)
	f.advance(t, start.Add(time.Hour))
	if got := f.steps(t, early); got != "0:sent 1:pending" || f.enrollment(t, early) != "completed" {
		t.Errorf("version 1: %s, %s", got, f.enrollment(t, early))
	}
	if got := f.steps(t, late); got != "0:sent" || f.enrollment(t, late) != "completed" {
		t.Errorf("version 2: %s, %s", got, f.enrollment(t, late))
	}
}

// Utility steps go to everyone; a marketing step needs consent, and an opt-out after enrollment
// ends the journey when the sequence exits on opt-out.
func TestMarketingStepNeedsConsent(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-time.Minute)
	f := newFixture(t, start)
	marketing := f.id(t, `INSERT INTO templates (account_id, name, language, category, components)
		VALUES ($1, 'offer', 'en', 'marketing', '{"body": {"text": "sale"}}') RETURNING id`, f.account)
	def := rule(t, `{"steps": [{}, {"delay": {"amount": 1, "unit": "hours"}}]}`)
	seq := f.sequence(t, def)
	f.exec(t, `UPDATE sequence_versions SET definition = jsonb_set(definition, '{steps,1,template_id}', to_jsonb($1::bigint)) WHERE sequence_id = $2`, marketing, f.seq)
	seq.Def.Steps[1].TemplateID = marketing
	never, leaves, stays := f.contact(t, "+14155550001", false), f.contact(t, "+14155550002", true), f.contact(t, "+14155550003", true)
	for _, c := range []int64{never, leaves, stays} {
		if _, _, err := f.engine.Enroll(context.Background(), f.pool, seq, c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.advance(t, start)
	f.exec(t, `UPDATE messages SET status = 'sent', sent_at = $1 WHERE contact_id <> $2`, start, never)
	f.exec(t, `UPDATE contacts SET opted_in = false, opt_in_changed_at = now() WHERE id = $1`, leaves)
	f.advance(t, start.Add(time.Hour))
	if got := f.steps(t, never); got != "0:pending" || f.enrollment(t, never) != "exited:opted_out" {
		t.Errorf("no consent: %s, %s", got, f.enrollment(t, never))
	}
	if f.enrollment(t, leaves) != "exited:opted_out" || f.enrollment(t, stays) != "completed" {
		t.Errorf("opted out after enrollment: %s; opted in: %s", f.enrollment(t, leaves), f.enrollment(t, stays))
	}
}
