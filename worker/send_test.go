package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// sendFixture is one account with a running broadcast of a marketing template on number 1001,
// sent through a Sender to metasim over HTTP, with the shared limiter on Redis.
type sendFixture struct {
	t         *testing.T
	pool      *pgxpool.Pool
	sim       *metasim.Sim
	sender    *Sender
	heart     *Heart
	broadcast int64
	contacts  int
}

// newSendFixture: tier is the portfolio's; pair is Dripcast's pair-rate interval (metasim keeps
// Meta's 6 s, so a shorter one lets Meta's 131056 through).
func newSendFixture(t *testing.T, tier int, pair time.Duration) *sendFixture {
	t.Helper()
	pool, box := testenv.DB(t), testenv.Secrets(t)
	sim := metasim.New(metasim.Config{PairInterval: 6 * time.Second})
	t.Cleanup(sim.Close)
	sim.AddNumber(metasim.Number{PhoneNumberID: "1001", WABAID: "2001", DisplayNumber: "+14155550199", Token: "tok", MPS: 1000})
	sim.AddTemplate(metasim.Template{Name: "promo", Language: "en", Category: "marketing"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := whatsapp.NewClient(srv.URL, "v23.0", 2*time.Second)
	limits := ratelimit.New(testenv.Redis(t), PortfolioUsage(pool), pair, ratelimit.SlotHorizon)
	// Under the race detector on a loaded machine a send often takes over 5 ms to write: these
	// tests are about other decisions (TestLateSendTakesNewSlots is about that one).
	limits.Tolerance = 100 * time.Millisecond
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	heart := NewHeart(pool, log)
	if err := heart.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(heart.Stop)
	f := &sendFixture{t: t, pool: pool, sim: sim, heart: heart,
		sender: NewSender(pool, client, limits, box, log, metrics.New(prometheus.NewRegistry()), heart)}
	err := pool.QueryRow(context.Background(), `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'p', $1 FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc, throughput_mps)
		       SELECT account_id, id, '1001', '2001', '+14155550199', $2, '\x00', 1000 FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components)
		      SELECT account_id, 'promo', 'en', 'marketing', '{"body": {"text": "Our sale starts today."}}' FROM ch RETURNING id, account_id)
		INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience)
		SELECT ch.account_id, ch.id, t.id, 'b', 'running', '{}' FROM ch, t RETURNING id`,
		tier, box.Seal("tok", secrets.ChannelToken("1001"))).Scan(&f.broadcast)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// another starts a second broadcast: the next messages belong to it, so a contact can get two.
func (f *sendFixture) another() {
	f.t.Helper()
	err := f.pool.QueryRow(context.Background(), `INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience)
		SELECT account_id, channel_id, template_id, 'b2', 'running', '{}' FROM broadcasts WHERE id = $1 RETURNING id`, f.broadcast).Scan(&f.broadcast)
	if err != nil {
		f.t.Fatal(err)
	}
}

// message queues a message of the broadcast to a new contact (or to phone, when given).
func (f *sendFixture) message(phone string, optedIn bool) int64 {
	f.t.Helper()
	if phone == "" {
		f.contacts++
		phone = fmt.Sprintf("+1415555%04d", f.contacts)
	}
	var id int64
	err := f.pool.QueryRow(context.Background(), `
		WITH c AS (INSERT INTO contacts (account_id, phone, opted_in) SELECT account_id, $2, $3 FROM broadcasts WHERE id = $1
		           ON CONFLICT (account_id, phone) DO UPDATE SET opted_in = EXCLUDED.opted_in RETURNING id)
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, queued_at)
		SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id, 'queued', now(), now() FROM broadcasts b, c WHERE b.id = $1
		RETURNING id`, f.broadcast, phone, optedIn).Scan(&id)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// process runs the message's send task as a worker would.
func (f *sendFixture) process(id int64) error {
	task, _ := sendtask.New(id)
	return f.sender.ProcessTask(context.Background(), task)
}

// state is the message's status, reason and error code, and its broadcast's status and reason.
func (f *sendFixture) state(id int64) string {
	f.t.Helper()
	var out string
	err := f.pool.QueryRow(context.Background(), `SELECT m.status || ' ' || COALESCE(m.reason, '-') || ' ' || COALESCE(m.error_code, 0) ||
		' | ' || b.status || ' ' || b.status_reason FROM messages m JOIN broadcasts b ON b.id = m.broadcast_id WHERE m.id = $1`, id).Scan(&out)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *sendFixture) resume() {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), "UPDATE broadcasts SET status = 'running', status_reason = ''"); err != nil {
		f.t.Fatal(err)
	}
}

// Each decision of a send, against metasim over HTTP: what the row, the broadcast and Meta end with.
func TestSendDecisions(t *testing.T) {
	f := newSendFixture(t, 10000, time.Millisecond)
	accepted := func() int { return f.sim.Counters().Accepted }

	id := f.message("", true)
	if err := f.process(id); err != nil || f.state(id) != "sent - 0 | running " || accepted() != 1 {
		t.Fatalf("a send: %v, %s, %d accepted", err, f.state(id), accepted())
	}
	// The claim is lost (the row is not queued any more): nothing is sent again.
	if err := f.process(id); err != nil || accepted() != 1 {
		t.Fatalf("a second task of a sent message: %v, %d accepted", err, accepted())
	}
	// Marketing to a contact who did not opt in is skipped before Meta.
	if id := f.message("", false); f.process(id) != nil || f.state(id) != "skipped opted_out 0 | running " || accepted() != 1 {
		t.Errorf("not opted in: %s", f.state(id))
	}
	// (Meta reports a recipient's failures, 131026 or 131050, in status webhooks: see webhooks.)
	// Meta's pair rate (131056; Dripcast's own interval is set short here): back to the queue,
	// retried later without counting as a failure.
	f.another()
	var limited *RateLimited
	if id := f.message("+14155550001", true); !errors.As(f.process(id), &limited) || f.state(id) != "queued - 0 | running " {
		t.Errorf("Meta's pair rate: %s", f.state(id))
	}
	// A request Meta refuses as malformed (#100, a number too short): the step stops, and so does
	// its broadcast, as every other send of it would fail the same.
	if id := f.message("+12345", true); f.process(id) != nil || f.state(id) != "failed meta_error_100 100 | paused paused automatically: meta_error_100" {
		t.Errorf("a request Meta refuses: %s", f.state(id))
	}
	f.resume()

	// Meta's 5xx: back to the queue, the task retried (an error for asynq).
	f.sim.SetFaults(metasim.Faults{ServerError: 1})
	if id := f.message("", true); f.process(id) == nil || f.state(id) != "queued - 0 | running " {
		t.Errorf("Meta 5xx: %s", f.state(id))
	}
	// Meta's 130429: back to the queue, retried without counting as a failure.
	f.sim.SetFaults(metasim.Faults{RateLimited: 1})
	if id := f.message("", true); !errors.As(f.process(id), &limited) || f.state(id) != "queued - 0 | running " {
		t.Errorf("Meta 130429: %s", f.state(id))
	}
	// Sent, but the answer never came: unknown, never sent again blindly.
	f.sim.SetFaults(metasim.Faults{Timeout: 1})
	if id := f.message("", true); f.process(id) != nil || f.state(id) != "unknown ambiguous_send 0 | running " {
		t.Errorf("no answer: %s", f.state(id))
	}
	f.sim.SetFaults(metasim.Faults{})

	// A template Meta paused (132015): the message waits, the broadcast pauses until approval.
	if err := f.sim.TemplateStatus(metasim.TemplateChange{PhoneNumberID: "1001", Name: "promo", Language: "en", Event: "PAUSED"}); err != nil {
		t.Fatal(err)
	}
	if id := f.message("", true); f.process(id) != nil || f.state(id) != "pending - 0 | paused paused automatically: template paused" {
		t.Errorf("template paused at Meta: %s", f.state(id))
	}
	f.resume()
	// A template paused in Dripcast's own row: held before Meta is asked.
	before := accepted()
	if _, err := f.pool.Exec(context.Background(), "UPDATE templates SET status = 'disabled'"); err != nil {
		t.Fatal(err)
	}
	if id := f.message("", true); f.process(id) != nil || f.state(id) != "pending - 0 | paused paused automatically: template disabled" ||
		accepted() != before {
		t.Errorf("template disabled: %s", f.state(id))
	}
	f.resume()
	if _, err := f.pool.Exec(context.Background(), "UPDATE templates SET status = 'approved'"); err != nil {
		t.Fatal(err)
	}
	_ = f.sim.TemplateStatus(metasim.TemplateChange{PhoneNumberID: "1001", Name: "promo", Language: "en", Event: "APPROVED"})

	// A token Meta refuses (190): the number and its broadcasts pause; the message waits.
	f.sim.AddNumber(metasim.Number{PhoneNumberID: "1001", WABAID: "2001", DisplayNumber: "+14155550199", Token: "rotated", MPS: 1000})
	id = f.message("", true)
	if f.process(id) != nil || f.state(id) != "pending - 0 | paused paused automatically: channel: Meta error 190" {
		t.Errorf("token refused: %s", f.state(id))
	}
	var channel string
	_ = f.pool.QueryRow(context.Background(), "SELECT status FROM channels").Scan(&channel)
	if channel != "paused" {
		t.Errorf("the channel is %s after Meta refused its token", channel)
	}
}

// The limiter's refusals: a full tier holds the message for later; the pair rate sends the task
// back to the queue for a retry soon.
func TestSendLimiterRefusals(t *testing.T) {
	f := newSendFixture(t, 1, 6*time.Second)
	first := f.message("+14155550001", true)
	if err := f.process(first); err != nil || f.state(first) != "sent - 0 | running " {
		t.Fatalf("first recipient: %v %s", err, f.state(first))
	}
	var due time.Time
	second := f.message("+14155550002", true)
	if err := f.process(second); err != nil || f.state(second) != "pending tier 0 | running " {
		t.Fatalf("a tier of 1, second recipient: %v %s", err, f.state(second))
	}
	_ = f.pool.QueryRow(context.Background(), "SELECT due_at FROM messages WHERE id = $1", second).Scan(&due)
	if !due.After(time.Now().Add(time.Hour)) {
		t.Errorf("held until %v, want the tier's slot to free (24 h after the first)", due)
	}
	f.another()
	again := f.message("+14155550001", true) // the same recipient: in the tier, but within the pair rate
	var limited *RateLimited
	if err := f.process(again); !errors.As(err, &limited) || f.state(again) != "queued - 0 | running " {
		t.Fatalf("pair rate: %v %s", err, f.state(again))
	}
	if f.sim.Counters().Accepted != 1 {
		t.Errorf("%d sends reached Meta, want 1", f.sim.Counters().Accepted)
	}
}

// A send never goes out after its slot: one that keeps waking too late takes new slots, five
// times, then goes back to the queue with its task retried, Meta having received nothing; on time
// again, it goes.
func TestLateSendTakesNewSlots(t *testing.T) {
	f := newSendFixture(t, 10000, time.Millisecond)
	f.sender.limits.Tolerance = -time.Hour // every slot has passed when the send would be written
	id := f.message("", true)
	var limited *RateLimited
	if err := f.process(id); !errors.As(err, &limited) || f.state(id) != "queued - 0 | running " || f.sim.Counters().Requests != 0 {
		t.Fatalf("always late: %v, %s, metasim got %d requests", err, f.state(id), f.sim.Counters().Requests)
	}
	var channel int64
	_ = f.pool.QueryRow(context.Background(), `SELECT channel_id FROM messages WHERE id = $1`, id).Scan(&channel)
	if late := testutil.ToFloat64(f.sender.metrics.LimitDecisions.WithLabelValues(metrics.Channel(channel), "late")); late != maxLate+1 {
		t.Errorf("%v late decisions counted, want %d (each miss, the last handing it back)", late, maxLate+1)
	}
	f.sender.limits.Tolerance = ratelimit.DefaultTolerance
	if err := f.process(id); err != nil || f.state(id) != "sent - 0 | running " {
		t.Fatalf("on time: %v, %s", err, f.state(id))
	}
}

// A send whose slot its worker's heartbeats do not vouch for is counted apart from a late one.
func TestLateDecisionNamesItsCause(t *testing.T) {
	for err, want := range map[error]string{whatsapp.ErrLate: "late", errUnvouched: "unvouched", fmt.Errorf("write: %w", errUnvouched): "unvouched"} {
		if got := lateDecision(err); got != want {
			t.Errorf("%v: %q, want %q", err, got, want)
		}
	}
}

// A sent record Postgres refuses (a trigger stands for a constraint on one row) never blocks its
// batch: the others land with their wamids, that one is set aside with its error and recorded
// sent without it, and no message waits in sending.
func TestPoisonedSentRecordIsSetAside(t *testing.T) {
	f := newSendFixture(t, 10000, time.Millisecond)
	ctx := context.Background()
	ids := make([]int64, 30)
	for i := range ids {
		ids[i] = f.message("", true)
	}
	poisoned := ids[11]
	if _, err := f.pool.Exec(ctx, fmt.Sprintf(`
		CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'poisoned row' USING ERRCODE = '23514'; END $$;
		CREATE TRIGGER poison BEFORE UPDATE ON messages FOR EACH ROW
		WHEN (NEW.id = %d AND NEW.wamid IS NOT NULL) EXECUTE FUNCTION poison();`, poisoned)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if err := f.process(id); err != nil {
				t.Errorf("message %d: %v", id, err)
			}
		})
	}
	wg.Wait()
	var sent, withWAMID, sending int
	_ = f.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'sent'), count(wamid), count(*) FILTER (WHERE status = 'sending')
		FROM messages`).Scan(&sent, &withWAMID, &sending)
	if sent != len(ids) || withWAMID != len(ids)-1 || sending != 0 {
		t.Errorf("%d sent, %d with a wamid, %d in sending; want %d, %d, 0", sent, withWAMID, sending, len(ids), len(ids)-1)
	}
	if got := f.state(poisoned); got != "sent record_failed 0 | running " {
		t.Errorf("the poisoned message: %s", got)
	}
	var aside string
	_ = f.pool.QueryRow(ctx, `SELECT batch || ' ' || message_id || ' ' || (payload ->> 'wamid' LIKE 'wamid.%') || ' ' || error FROM set_aside`).Scan(&aside)
	if want := fmt.Sprintf("sent %d true ERROR: poisoned row (SQLSTATE 23514)", poisoned); aside != want {
		t.Errorf("set aside: %q, want %q", aside, want)
	}
	if n := f.sim.Counters().Accepted; n != len(ids) {
		t.Errorf("metasim took %d, want %d (none twice)", n, len(ids))
	}
}
