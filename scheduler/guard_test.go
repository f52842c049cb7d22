package scheduler

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/testenv"
)

// A running broadcast most of whose 200 sends failed pauses for its failures; one just like it
// that only waits for retries is not counted until it sends again.
func TestGuardPausesOnFailures(t *testing.T) {
	pool := testenv.DB(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name) SELECT id, 'p' FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		       SELECT account_id, id, '1001', '2001', '+14155550199', '\x00', '\x00' FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components) SELECT account_id, 'promo', 'en', 'marketing', '{}' FROM ch RETURNING id),
		b AS (INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience, expanded_at, retry_wait_until)
		      SELECT ch.account_id, ch.id, t.id, w.name, 'running', '{}', now(), w.until
		      FROM ch, t, (VALUES ('sending', NULL::timestamptz), ('retrying', now() + interval '1 hour')) w(name, until)
		      RETURNING id, account_id, channel_id, template_id)
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, sent_at, error_code)
		SELECT b.account_id, b.channel_id, n, b.template_id, b.id, CASE WHEN n % 5 = 0 THEN 'delivered'::message_status ELSE 'failed' END,
		       now(), now(), CASE WHEN n % 5 = 0 THEN NULL ELSE 131026 END
		FROM b, generate_series(1, 200) n`); err != nil {
		t.Fatal(err)
	}
	jobs := NewJobs(pool, nil, nil, quiet, metrics.New(prometheus.NewRegistry()))
	if err := jobs.Guard(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT name || ' ' || status || ' ' || COALESCE(pause_cause, '-') FROM broadcasts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		got = append(got, s)
	}
	if len(got) != 2 || got[0] != "sending paused failure_rate" || got[1] != "retrying running -" {
		t.Errorf("after the guard: %q", got)
	}
}
