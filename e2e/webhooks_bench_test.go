package e2e

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

var benchStatuses = flag.Int("bench-webhook-messages", 200000, "the messages whose statuses BenchmarkWebhooks posts")

// BenchmarkWebhooks measures status webhooks applied per second: metasim posts sent, delivered
// and read for every message (signed, in Meta's batches of up to 100) to a `dripcast api`
// process, which checks each signature and applies each batch in one transaction. Baseline, in
// the same run: batched UPDATE … FROM unnest(…) of the same three changes to a copy of the rows
// (same indexes), 1,000 rows a statement on one connection.
func BenchmarkWebhooks(b *testing.B) {
	for range b.N {
		n := *benchStatuses
		c := newCluster(b, metasim.Config{}, true)
		c.start("api")
		channels, template := c.setupNumbers(1000)
		bc := c.call("POST", "/v1/broadcasts", map[string]any{"name": "Later", "channel_id": channels[0], "template_id": template,
			"audience": map[string]any{"tag": "none"}, "send_at": time.Now().Add(7 * 24 * time.Hour)}, 201)
		ids := c.seedSending(n, channels[0], template, int64(bc["id"].(float64)))
		baseline := c.baselineStatusUpdates(ids)

		var statuses []whatsapp.Status
		for _, kind := range []string{"sent", "delivered", "read"} {
			for _, id := range ids {
				statuses = append(statuses, whatsapp.Status{ID: fmt.Sprint("wamid.bench.", id), Status: kind, RecipientID: "12125550000",
					BizOpaqueCallbackData: strconv.FormatInt(id, 10), Timestamp: strconv.FormatInt(time.Now().Unix(), 10)})
			}
		}
		start := time.Now()
		if err := c.sim.PostStatuses(numberID(0), statuses); err != nil {
			b.Fatal(err)
		}
		testenv.Eventually(b, "every status applied", 30*time.Minute, func() bool { return c.sim.Counters().WebhooksPending == 0 })
		rate := float64(len(statuses)) / time.Since(start).Seconds()
		var read int
		if err := c.pool.QueryRow(context.Background(), "SELECT count(*) FROM messages WHERE status = 'read' AND sent_at IS NOT NULL AND delivered_at IS NOT NULL").Scan(&read); err != nil {
			b.Fatal(err)
		}
		if cnt := c.sim.Counters(); read != n || cnt.WebhookFailures != 0 {
			b.Fatalf("%d of %d messages read with every timestamp; %d webhook posts failed", read, n, cnt.WebhookFailures)
		}
		b.ReportMetric(rate, "statuses/s")
		b.ReportMetric(baseline, "update-rows/s")
		b.ReportMetric(rate/baseline, "ratio")
	}
}

// seedSending writes n messages in sending (contacts too), as the worker leaves them before Meta
// answers.
func (c *cluster) seedSending(n int, channel, template, broadcast int64) []int64 {
	ctx := context.Background()
	c.seedContacts(n, "all")
	rows, err := c.pool.Query(ctx, `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, sending_at)
		SELECT account_id, $1, id, $2, $3, 'sending', now(), now() FROM contacts RETURNING id`, channel, template, broadcast)
	if err != nil {
		c.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			c.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	_, err = c.pool.Exec(ctx, "ANALYZE messages")
	if err != nil {
		c.t.Fatal(err)
	}
	return ids
}

// seedContacts writes n opted-in contacts with a tag straight into Postgres: far faster than an
// import, for benchmarks whose subject is not the import.
func (c *cluster) seedContacts(n int, tag string) {
	if _, err := c.pool.Exec(context.Background(), `INSERT INTO contacts (account_id, phone, opted_in, tags)
		SELECT (SELECT id FROM accounts), '+1212' || lpad(i::text, 7, '0'), true, ARRAY[$2] FROM generate_series(1, $1) i`, n, tag); err != nil {
		c.t.Fatal(err)
	}
}

// baselineStatusUpdates copies the messages with their indexes and applies sent, delivered and
// read to every row with plain batched updates; it answers row changes per second.
func (c *cluster) baselineStatusUpdates(ids []int64) float64 {
	ctx := context.Background()
	for _, sql := range []string{"CREATE TABLE baseline_messages (LIKE messages INCLUDING ALL)",
		"INSERT INTO baseline_messages OVERRIDING SYSTEM VALUE SELECT * FROM messages", "ANALYZE baseline_messages"} {
		if _, err := c.pool.Exec(ctx, sql); err != nil {
			c.t.Fatal(err)
		}
	}
	defer c.pool.Exec(ctx, "DROP TABLE baseline_messages") //nolint:errcheck // the database is dropped anyway
	start := time.Now()
	for _, kind := range []string{"sent", "delivered", "read"} {
		for lo := 0; lo < len(ids); lo += 1000 {
			batch := ids[lo:min(lo+1000, len(ids))]
			if _, err := c.pool.Exec(ctx, `UPDATE baseline_messages m SET status = $2::text::message_status,
				sent_at = CASE WHEN $2::text = 'sent' THEN now() ELSE m.sent_at END,
				delivered_at = CASE WHEN $2::text = 'delivered' THEN now() ELSE m.delivered_at END,
				read_at = CASE WHEN $2::text = 'read' THEN now() ELSE m.read_at END
				FROM unnest($1::bigint[]) AS u(id) WHERE m.id = u.id`, batch, kind); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	return float64(3*len(ids)) / time.Since(start).Seconds()
}
