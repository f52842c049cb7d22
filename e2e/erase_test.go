package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/testenv"
)

// A person's data, exported and then erased in the middle of a broadcast (one a second) and of a
// drip (its second step a day on, 12 s here): nothing goes to them after the erasure, no table
// and no Redis key still holds their number, the broadcast's counts keep them, the erasure is
// audited, they are in no later audience nor enrollment, and a later import of the number is a
// new contact.
func TestEraseContact(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newDripStack(t)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 3, utc)
	person, digits := phoneOf(1), strings.TrimPrefix(phoneOf(1), "+")
	var id int64
	if err := s.pool.QueryRow(context.Background(), `SELECT id FROM contacts WHERE phone = $1`, person).Scan(&id); err != nil {
		t.Fatal(err)
	}
	s.call("PATCH", fmt.Sprintf("/v1/contacts/%d", id), map[string]any{"email": "ana@example.com", "attributes": map[string]any{"city": "Pune"}}, 200)
	tpl := s.template("welcome", map[string]any{"source": "contact", "field": "first_name", "fallback": "there"})
	seq := s.sequence(map[string]any{"name": "Welcome", "channel_id": channel, "steps": []map[string]any{
		{"template_id": tpl}, {"template_id": tpl, "delay": map[string]any{"amount": 1, "unit": "days"}}}})
	s.call("POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"phone": person}, 201)
	testenv.Eventually(t, "the first step sent", 20*time.Second, func() bool { return len(s.sim.Records(0, digits)) == 1 })
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Slow", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"phones": []string{phoneOf(0), person, phoneOf(2)}}, "rate_cap": 1}, 201)
	broadcast := int64(b["id"].(float64))
	testenv.Eventually(t, "the broadcast sending", 20*time.Second, func() bool { return s.report(broadcast)["sent"].(float64) >= 1 })

	export := s.call("GET", fmt.Sprintf("/v1/contacts/%d/export", id), nil, 200)
	if c := export["contact"].(map[string]any); c["phone"] != person || c["email"] != "ana@example.com" ||
		len(export["messages"].([]any)) < 2 || len(export["enrollments"].([]any)) != 1 {
		t.Fatalf("the export: %v", export)
	}
	erased := s.call("POST", fmt.Sprintf("/v1/contacts/%d/erase", id), nil, 200)
	at := time.Now()
	if erased["phone"] != fmt.Sprintf("erased:%d", id) || erased["name"] != "" || erased["erased_at"] == nil {
		t.Errorf("the erased contact: %v", erased)
	}
	s.call("POST", fmt.Sprintf("/v1/contacts/%d/erase", id), nil, 409)

	testenv.Eventually(t, "the broadcast done", 30*time.Second, func() bool { return s.status(broadcast) == "completed" })
	time.Sleep(15 * time.Second) // past the drip's second step
	for _, r := range s.sim.Records(0, digits) {
		if r.At.After(at) {
			t.Errorf("sent to the erased person after the erasure: %+v", r)
		}
	}
	if rep := s.report(broadcast); rep["audience"] != 3.0 {
		t.Errorf("the broadcast's audience after the erasure: %v", rep["audience"])
	}
	for table, n := range tablesHolding(t, s, digits) {
		t.Errorf("table %s still holds the number in %d rows", table, n)
	}
	for table, n := range tablesHolding(t, s, "ana@example.com") {
		t.Errorf("table %s still holds the email in %d rows", table, n)
	}
	redisHolding(t, s.rdb, digits)
	var audited int
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'contact.erase' AND target_id = $1`, id).Scan(&audited)
	if audited != 1 {
		t.Errorf("%d erasures audited", audited)
	}
	// An erased person is in no audience and cannot be enrolled.
	s.call("POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"contact_id": id}, 409)
	draft := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Them", "channel_id": channel, "template_id": template, "draft": true,
		"audience": map[string]any{"contact_ids": []int64{id}}}, 201)
	if m := draft["audience_estimate"].(map[string]any)["matching"]; m != 0.0 {
		t.Errorf("a broadcast to the erased contact matches %v", m)
	}
	again := s.call("POST", "/v1/contacts", map[string]any{"phone": person, "name": "Ana again"}, 201)
	if int64(again["id"].(float64)) == id {
		t.Error("the number's new contact is the erased one")
	}
}

// tablesHolding counts, per table, the rows whose text holds s.
func tablesHolding(t *testing.T, st *stack, s string) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := st.pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := st.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s x WHERE strpos(x::text, $1) > 0`, pgx.Identifier{table}.Sanitize()), s).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}

// redisHolding fails the test for a key of Redis that names s or a sorted set that holds it.
func redisHolding(t *testing.T, rdb *redis.Client, s string) {
	t.Helper()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		if strings.Contains(key, s) {
			t.Errorf("redis key %s", key)
		}
		if rdb.Type(ctx, key).Val() == "zset" {
			if _, err := rdb.ZScore(ctx, key, s).Result(); err == nil {
				t.Errorf("redis sorted set %s holds it", key)
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}
