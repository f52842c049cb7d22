package scheduler

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/testenv"
)

// Content past an account's retention (30 days here, 90 by default) is scrubbed: a drip message's
// parameters once it is done sending, and the properties of processed events and deliveries and
// of finished enrollments; what is younger, or still to be sent or processed, keeps it.
func TestRetentionScrubsOldContent(t *testing.T) {
	pool := testenv.DB(t)
	ctx := context.Background()
	var a, b, channel, tpl int64
	if err := pool.QueryRow(ctx, `SELECT account_id, channel_id, template_id FROM broadcasts WHERE id = $1`, runningBroadcast(t, pool)).
		Scan(&a, &channel, &tpl); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT account_id FROM broadcasts WHERE id = $1`, runningBroadcast(t, pool)).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE accounts SET settings = '{"retention": {"content_days": 30}}' WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	// Account a's contact, sequence and integration; messages of a and b; a's events, deliveries
	// and enrollments, old and recent.
	_, err := pool.Exec(ctx, `
		WITH c AS (INSERT INTO contacts (account_id, phone) VALUES ($1, '+14155550100') RETURNING id),
		s AS (INSERT INTO sequences (account_id, channel_id, name) VALUES ($1, $3, 's') RETURNING id),
		i AS (INSERT INTO integrations (account_id, name, kind, token, secret_enc) VALUES ($1, 'i', 'generic', gen_random_uuid()::text, '\x00') RETURNING id),
		m AS (INSERT INTO messages (account_id, channel_id, contact_id, template_id, enrollment_id, step, status, due_at, context)
		      SELECT $1::bigint, $3::bigint, c.id, $4::bigint, en, 0, st::message_status, now() - make_interval(days => d), '{"order": "A-1"}'::jsonb
		      FROM c, (VALUES ('delivered', 40, 1), ('pending', 40, 2), ('delivered', 10, 3)) v(st, d, en)
		      UNION ALL
		      SELECT $2::bigint, $3::bigint, c.id, $4::bigint, en, 0, 'read', now() - make_interval(days => d), '{"order": "B-1"}'::jsonb
		      FROM c, (VALUES (60, 4), (100, 5)) v(d, en) RETURNING 1),
		e AS (INSERT INTO events (account_id, name, properties, received_at, processed_at)
		      VALUES ($1, 'old', '{"email": "a@x"}', now() - interval '40 days', now() - interval '40 days'),
		             ($1, 'unprocessed', '{"email": "a@x"}', now() - interval '40 days', NULL),
		             ($1, 'recent', '{"email": "a@x"}', now() - interval '10 days', now()) RETURNING 1),
		d AS (INSERT INTO integration_deliveries (account_id, integration_id, delivery_id, payload, received_at, processed_at)
		      SELECT $1, i.id, v.k, '{"phone": "+14155550100"}'::jsonb, now() - interval '40 days', v.p FROM i,
		      (VALUES ('old', now()), ('waiting', NULL::timestamptz)) v(k, p) RETURNING 1)
		INSERT INTO enrollments (account_id, sequence_id, version, contact_id, status, properties, finished_at)
		SELECT $1, s.id, 1, c.id, v.st::enrollment_status, '{"cart": "x"}'::jsonb, v.f FROM s, c,
		(VALUES ('completed', now() - interval '40 days'), ('active', NULL::timestamptz)) v(st, f)`, a, b, channel, tpl)
	if err != nil {
		t.Fatal(err)
	}
	jobs := NewJobs(pool, testenv.Redis(t), nil, quiet, metrics.New(prometheus.NewRegistry()))
	if err := jobs.Retention(ctx); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := pool.QueryRow(ctx, `SELECT concat_ws(' | ',
		(SELECT string_agg(status || ' ' || extract(day FROM now() - due_at)::int || 'd ' || (context IS NOT NULL), ', ' ORDER BY account_id, due_at, id) FROM messages),
		(SELECT string_agg(name || ' ' || (properties <> '{}'), ', ' ORDER BY id) FROM events),
		(SELECT string_agg(delivery_id || ' ' || (payload <> '{}'), ', ' ORDER BY id) FROM integration_deliveries),
		(SELECT string_agg(status || ' ' || (properties <> '{}'), ', ' ORDER BY id) FROM enrollments))`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	want := "delivered 40d false, pending 40d true, delivered 10d true, read 100d false, read 60d true | " +
		"old false, unprocessed true, recent true | old false, waiting true | completed false, active true"
	if got != want {
		t.Fatalf("after the scrub (what still has content):\n got %s\nwant %s", got, want)
	}
}
