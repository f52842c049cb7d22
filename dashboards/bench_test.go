package dashboards

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/testenv"
)

var panelMessages = flag.Int("panel-messages", 10_000_000, "messages in the database the panel queries run on")

// Target: a panel query answers in under 200 ms on the full database.
const panelTarget = 200 * time.Millisecond

// seed fills a migrated database with n messages over the 30 days before rangeEnd, the end of the
// range the panel queries are expanded with: 50 broadcasts, and a tenth of the messages from
// drip steps of 4 sequences; 95 % delivered, 60 % read, 2 % failed, 1 % replied.
func seed(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	steps := []string{
		`INSERT INTO accounts (name) VALUES ('bench')`,
		`INSERT INTO portfolios (account_id, name) VALUES (1, 'p')`,
		`INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		 VALUES (1, 1, '1001', '2001', '+14155550199', '\x00', '\x00')`,
		`INSERT INTO templates (account_id, name, language, category, components) VALUES (1, 't', 'en', 'marketing', '{}')`,
		`INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience, started_at)
		 SELECT 1, 1, 1, 'b' || i, 'completed', '{}', '2026-10-30'::timestamptz + (i - 1) * interval '14 hours 24 minutes'
		 FROM generate_series(1, 50) i`,
		`INSERT INTO sequences (account_id, channel_id, name, status) SELECT 1, 1, 's' || i, 'active' FROM generate_series(1, 4) i`,
		`INSERT INTO sequence_versions (sequence_id, version, account_id, definition) SELECT id, 1, 1, '{}' FROM sequences`,
		`INSERT INTO contacts (account_id, phone) SELECT 1, '+1415' || lpad(i::text, 7, '0') FROM generate_series(1, 200000) i`,
		fmt.Sprintf(`INSERT INTO enrollments (account_id, sequence_id, version, contact_id, status, enrolled_at)
		 SELECT 1, i %% 4 + 1, 1, i %% 200000 + 1, 'completed', '2026-10-30'::timestamptz + i * (interval '30 days' / %d)
		 FROM generate_series(1, %d) i`, n/30+1, n/30+1),
		fmt.Sprintf(`INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, enrollment_id, step, status,
		   due_at, sent_at, delivered_at, read_at, failed_at, replied_at, error_code, reason)
		 SELECT 1, 1, i %% 200000 + 1, 1,
		   CASE WHEN i %% 10 <> 0 THEN (i::bigint * 50 / %[1]d) + 1 END,
		   CASE WHEN i %% 10 = 0 THEN (i / 10) %% %[2]d + 1 END,
		   CASE WHEN i %% 10 = 0 THEN (i / 10 / %[2]d) %% 3 END,
		   CASE WHEN i %% 50 = 0 THEN 'failed' WHEN i %% 5 < 3 THEN 'read' ELSE 'delivered' END::message_status,
		   t, t, CASE WHEN i %% 50 <> 0 THEN t + interval '3 seconds' END,
		   CASE WHEN i %% 50 <> 0 AND i %% 5 < 3 THEN t + interval '1 minute' END,
		   CASE WHEN i %% 50 = 0 THEN t + interval '3 seconds' END,
		   CASE WHEN i %% 100 = 1 THEN t + interval '5 minutes' END,
		   CASE WHEN i %% 50 = 0 THEN 131026 END, CASE WHEN i %% 50 = 0 THEN 'meta_error' END
		 FROM (SELECT i, '2026-10-30'::timestamptz + i * (interval '30 days' / %[1]d) AS t FROM generate_series(1, %[1]d) i) s`,
			n, n/30+1),
		`VACUUM ANALYZE`,
	}
	for _, sql := range steps {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
}

// BenchmarkPanelQueries runs every SQL query of the dashboards on a database of -panel-messages
// messages, over the last day of it, and prints each one's median time beside the 200 ms target.
func BenchmarkPanelQueries(b *testing.B) {
	pool := testenv.DB(b)
	start := time.Now()
	seed(b, pool, *panelMessages)
	b.Logf("seeded %d messages in %s", *panelMessages, time.Since(start).Round(time.Second))
	type result struct {
		where          string
		median, slower time.Duration
		plan           string
	}
	var results []result
	for file, d := range load(b) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL == "" {
					continue
				}
				sql := expand(tg.RawSQL, p)
				var times []time.Duration
				for range 3 {
					t0 := time.Now()
					rows, err := pool.Query(context.Background(), sql)
					if err != nil {
						b.Fatalf("%s %q: %v", file, p.Title, err)
					}
					rows.Close()
					times = append(times, time.Since(t0))
				}
				slices.Sort(times)
				r := result{where: fmt.Sprintf("%s: %s %s", strings.TrimSuffix(file, ".json"), p.Title, tg.RefID), median: times[1], slower: times[2]}
				if r.median > panelTarget {
					r.plan = explain(b, pool, sql)
				}
				results = append(results, r)
			}
		}
	}
	sort.Slice(results, func(i, j int) bool { return results[i].median > results[j].median })
	fmt.Fprintf(os.Stdout, "\npanel queries on %d messages over 30 days (the last day, or the panel's own range), median of 3 (target %s)\n",
		*panelMessages, panelTarget)
	for _, r := range results {
		mark := "ok"
		if r.median > panelTarget {
			mark = "OVER"
		}
		fmt.Fprintf(os.Stdout, "  %-70s %8.1f ms  (max %6.1f)  %s\n", r.where, ms(r.median), ms(r.slower), mark)
	}
	for _, r := range results {
		if r.plan != "" {
			fmt.Fprintf(os.Stdout, "\n%s is over its target:\n%s\n", r.where, r.plan)
		}
	}
	b.ReportMetric(ms(results[0].median), "slowest-ms")
}

// explain is the query's plan as it ran, for a query over its target.
func explain(b *testing.B, pool *pgxpool.Pool, sql string) string {
	rows, err := pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		_ = rows.Scan(&l)
		lines = append(lines, "    "+l)
	}
	return strings.Join(lines, "\n")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
