package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/worker"
)

// The tier gauges show each portfolio's limit and the unique recipients the limiter admitted.
func TestTierGauges(t *testing.T) {
	pool := testenv.DB(t)
	ctx := context.Background()
	var limited, unlimited int64
	if err := pool.QueryRow(ctx, `WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'p', 250 FROM a RETURNING id)
		SELECT id FROM p`).Scan(&limited); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'q', NULL FROM accounts RETURNING id`).Scan(&unlimited); err != nil {
		t.Fatal(err)
	}
	limits := ratelimit.New(testenv.Redis(t), worker.PortfolioUsage(pool), time.Second, time.Second)
	for i := range 3 {
		d, err := limits.Acquire(ctx, ratelimit.Send{PhoneNumberID: "1001", Portfolio: limited, MPS: 100, Tier: 250, Recipient: fmt.Sprint("1415555010", i)})
		if err != nil || !d.Allowed {
			t.Fatalf("acquire: %+v %v", d, err)
		}
	}
	m := metrics.New(prometheus.NewRegistry())
	jobs := NewJobs(pool, nil, nil, quiet, m)
	if err := jobs.Tiers(ctx, limits); err != nil {
		t.Fatal(err)
	}
	label := fmt.Sprint(limited)
	if used, limit := testutil.ToFloat64(m.TierUsed.WithLabelValues(label)), testutil.ToFloat64(m.TierLimit.WithLabelValues(label)); used != 3 || limit != 250 {
		t.Errorf("limited portfolio: used %v of %v", used, limit)
	}
	if n := testutil.CollectAndCount(m.TierLimit); n != 1 {
		t.Errorf("%d tier limits published; the unlimited portfolio has none", n)
	}
}

// Messages the tier holds go as its slots free (24 h after each counted recipient), and a running
// broadcast with nothing else to send waits for the tier, until the next of them; a message it
// can send now ends the wait.
func TestTierWaits(t *testing.T) {
	pool := testenv.DB(t)
	ctx := context.Background()
	var portfolio, broadcastID int64
	if err := pool.QueryRow(ctx, `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'p', 2 FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		       SELECT account_id, id, '1001', '2001', '+14155550199', '\x00', '\x00' FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components) SELECT account_id, 'promo', 'en', 'marketing', '{}' FROM ch RETURNING id),
		b AS (INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience, expanded_at)
		      SELECT ch.account_id, ch.id, t.id, 'b', 'running', '{}', now() FROM ch, t RETURNING id, account_id, channel_id, template_id),
		c AS (INSERT INTO contacts (account_id, phone, opted_in) SELECT account_id, '+1415555010' || n, true FROM ch, generate_series(1, 4) n
		      RETURNING id, phone),
		m AS (INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, reason, due_at, sent_at)
		      SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id,
		             CASE WHEN c.phone < '+14155550103' THEN 'sent'::message_status ELSE 'pending' END,
		             CASE WHEN c.phone < '+14155550103' THEN NULL ELSE 'tier' END, now() + interval '1 minute', now() FROM b, c)
		SELECT p.id, b.id FROM p, b`).Scan(&portfolio, &broadcastID); err != nil {
		t.Fatal(err)
	}
	limits := ratelimit.New(testenv.Redis(t), worker.PortfolioUsage(pool), time.Second, time.Second)
	for _, to := range []string{"14155550101", "14155550102"} {
		if d, err := limits.Acquire(ctx, ratelimit.Send{PhoneNumberID: "1001", Portfolio: portfolio, MPS: 100, Tier: 2, Recipient: to}); err != nil || !d.Allowed {
			t.Fatalf("acquire: %+v %v", d, err)
		}
	}
	jobs := NewJobs(pool, nil, nil, quiet, metrics.New(prometheus.NewRegistry()))
	if err := jobs.TierWaits(ctx, limits); err != nil {
		t.Fatal(err)
	}
	rows, _ := pool.Query(ctx, `SELECT due_at FROM messages WHERE reason = 'tier' ORDER BY id`)
	held, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil || len(held) != 2 {
		t.Fatalf("held: %v %v", held, err)
	}
	for _, due := range held {
		if d := time.Until(due); d < 23*time.Hour+59*time.Minute || d > 24*time.Hour {
			t.Errorf("a held message goes in %v, want when a slot frees (24 h after its recipient)", d)
		}
	}
	b, err := queries.New(pool).GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: 1, ID: broadcastID})
	if v := broadcast.ViewOf(b); err != nil || v.State != broadcast.WaitingForTier || !v.TierWaitUntil.Equal(held[0]) {
		t.Fatalf("the broadcast: %s until %v (%v), want waiting_for_tier until %v", v.State, v.TierWaitUntil, err, held[0])
	}
	if _, err := pool.Exec(ctx, `UPDATE messages SET reason = NULL, due_at = now() WHERE id = (SELECT max(id) FROM messages)`); err != nil {
		t.Fatal(err)
	}
	if err := jobs.TierWaits(ctx, limits); err != nil {
		t.Fatal(err)
	}
	b, _ = queries.New(pool).GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: 1, ID: broadcastID})
	if v := broadcast.ViewOf(b); v.State != "running" {
		t.Errorf("with a message to send now: %s", v.State)
	}
}
