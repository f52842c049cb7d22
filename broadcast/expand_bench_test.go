package broadcast

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
)

var expandContacts = flag.Int("expand-contacts", 100_000, "contacts in the expansion benchmark (make bench uses 1,000,000)")

// BenchmarkExpand expands a broadcast to -expand-contacts contacts (three in four opted in) and,
// in the same run, a plain INSERT … SELECT of as many rows into a table of the same width: the
// baseline. It reports both rates and their ratio (the target is at least 0.5). To tell what the
// expansion costs from what the table's indexes cost, it also times a plain INSERT … SELECT into
// messages itself (for a broadcast that stays a draft).
func BenchmarkExpand(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	n := *expandContacts
	acct, channel, tpl := expansionSetup(b, pool, n)
	q := queries.New(pool)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		bc, err := q.CreateBroadcast(ctx, queries.CreateBroadcastParams{AccountID: acct, ChannelID: channel, TemplateID: tpl,
			Name: "b", Status: "running", Audience: []byte(`{"tag":"all"}`), Parameters: []byte(`{}`)})
		if err != nil {
			b.Fatal(err)
		}
		plain, err := q.CreateBroadcast(ctx, queries.CreateBroadcastParams{AccountID: acct, ChannelID: channel, TemplateID: tpl,
			Name: "plain", Status: "draft", Audience: []byte(`{"tag":"all"}`), Parameters: []byte(`{}`)})
		if err != nil {
			b.Fatal(err)
		}
		_, _ = pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS baseline (LIKE messages INCLUDING DEFAULTS)")
		b.StartTimer()

		start := time.Now()
		if _, err := pool.Exec(ctx, `INSERT INTO baseline (id, account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at)
			SELECT c.id + $3::bigint * 100000000, c.account_id, $2, c.id, 1, $3, 'pending', now() FROM contacts c WHERE c.account_id = $1`, acct, channel, i); err != nil {
			b.Fatal(err)
		}
		baseline := float64(n) / time.Since(start).Seconds()

		start = time.Now()
		if _, err := pool.Exec(ctx, `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at)
			SELECT c.account_id, $2, c.id, $3, $4, 'pending', now() FROM contacts c WHERE c.account_id = $1`, acct, channel, tpl, plain.ID); err != nil {
			b.Fatal(err)
		}
		plainRate := float64(n) / time.Since(start).Seconds()

		start = time.Now()
		if err := Expand(ctx, pool, bc); err != nil {
			b.Fatal(err)
		}
		rate := float64(n) / time.Since(start).Seconds()
		var rows int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE broadcast_id = $1", bc.ID).Scan(&rows)
		if rows != n {
			b.Fatalf("%d rows for %d contacts", rows, n)
		}
		b.ReportMetric(rate, "rows/s")
		b.ReportMetric(baseline, "baseline_rows/s")
		b.ReportMetric(rate/baseline, "ratio")
		b.ReportMetric(plainRate, "messages_rows/s")
		b.ReportMetric(rate/plainRate, "ratio-to-messages")
	}
}

// expansionSetup makes an account with a number, a marketing template and n contacts tagged all,
// three in four opted in.
func expansionSetup(t testing.TB, pool *pgxpool.Pool, n int) (acct, channel, tpl int64) {
	ctx := context.Background()
	err := pool.QueryRow(ctx, `
		WITH a AS (INSERT INTO accounts (name) VALUES ('bench') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name) SELECT id, 'p' FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		       SELECT account_id, id, '1', '1', '+1', '\x00', '\x00' FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components) SELECT account_id, 't', 'en', 'marketing', '{}' FROM ch RETURNING id)
		SELECT ch.account_id, ch.id, t.id FROM ch, t`).Scan(&acct, &channel, &tpl)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO contacts (account_id, phone, tags, opted_in, time_zone)
		SELECT $1, '+1212' || lpad(i::text, 7, '0'), '{all}', i % 4 <> 0, 'Asia/Kolkata' FROM generate_series(1, $2) AS i`, acct, n)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = pool.Exec(ctx, "ANALYZE contacts")
	return acct, channel, tpl
}
