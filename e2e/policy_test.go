package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

func (s *stack) broadcast(channel, template int64) int64 {
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}}, 201)
	return int64(b["id"].(float64))
}

func (s *stack) finish(id int64) map[string]any {
	s.t.Helper()
	testenv.Eventually(s.t, "completed", 60*time.Second, func() bool { return s.status(id) == "completed" })
	testenv.Eventually(s.t, "webhooks", 30*time.Second, func() bool { return s.sim.Counters().WebhooksPending == 0 })
	return s.report(id)
}

// The frequency cap skips contacts who had their share of marketing, across broadcasts; Meta's
// own per-user cap (131049) fails a send, and "retry failed" makes a broadcast of exactly those.
func TestFrequencyCapAndRetryFailed(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 1000, MarketingCap: 1}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 50, utc)

	firstID := s.broadcast(channel, template)
	first := s.finish(firstID)
	if first["sent"].(float64) != 50 {
		t.Fatalf("first broadcast: %v", first)
	}
	// Meta's cap: a second marketing message the same day fails with 131049.
	second := s.broadcast(channel, template)
	rep := s.finish(second)
	if rep["failed"].(map[string]any)["131049"].(float64) != 50 {
		t.Fatalf("second broadcast: %v", rep)
	}
	retry := s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/retry-failed", second), nil, 201)
	if retry["retry_of"].(float64) != float64(second) || retry["audience_count"].(float64) != 50 {
		t.Fatalf("retry: %v", retry)
	}
	s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/cancel", int64(retry["id"].(float64))), nil, 200)
	s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/retry-failed", firstID), nil, 409) // nothing failed
	// Sends concluded not sent (they were unknown) are retried too.
	if _, err := s.pool.Exec(context.Background(), `UPDATE messages SET status = 'not_sent', reason = 'not_sent', settled = 'grace'
		WHERE id IN (SELECT id FROM messages WHERE broadcast_id = $1 ORDER BY id LIMIT 3)`, firstID); err != nil {
		t.Fatal(err)
	}
	if rep := s.report(firstID); rep["not_sent"].(float64) != 3 || rep["unknown_settled"].(map[string]any)["not_sent_after_grace"].(float64) != 3 {
		t.Fatalf("report with not_sent: %v", rep)
	}
	retry = s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/retry-failed", firstID), nil, 201)
	if retry["audience_count"].(float64) != 3 {
		t.Fatalf("retry of the not sent: %v", retry)
	}
	s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/cancel", int64(retry["id"].(float64))), nil, 200)

	// Our own cap: at most 1 marketing message a week; everyone had one, so all are skipped.
	s.call("PUT", "/v1/account/settings", map[string]any{"frequency_cap": map[string]any{"max": 1, "days": 7}}, 200)
	before := s.sim.Counters().Accepted
	rep = s.finish(s.broadcast(channel, template))
	if rep["skipped"].(map[string]any)["frequency_cap"].(float64) != 50 || s.sim.Counters().Accepted != before {
		t.Fatalf("capped broadcast: %v", rep)
	}
}

// A broadcast whose sends mostly fail pauses itself, with the reason.
func TestFailingBroadcastPausesItself(t *testing.T) {
	t.Parallel() // counts no sends per second
	var missing []string
	for i := range 400 {
		if i%5 != 0 {
			missing = append(missing, phoneOf(i))
		}
	}
	s := newStack(t, metasim.Config{TimeScale: 1000, NotOnWhatsApp: missing}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 400, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "rate_cap": 50}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "auto pause", 30*time.Second, func() bool { return s.status(id) == "paused" })
	got := s.call("GET", fmt.Sprintf("/v1/broadcasts/%d", id), nil, 200)
	if reason := got["status_reason"].(string); reason[:len("paused automatically")] != "paused automatically" {
		t.Fatalf("reason %q", reason)
	}
	if n := s.sim.Counters().Accepted; n >= 400 {
		t.Fatalf("all %d sent before the pause", n)
	}
}

func TestTestSend(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 1, utc)
	r := s.call("POST", "/v1/broadcasts/test-send", map[string]any{"channel_id": channel, "template_id": template,
		"phones": []string{phoneOf(0), "+14155550100", "nope"}}, 200)
	results := r["results"].([]any)
	ok := 0
	for _, x := range results {
		if x.(map[string]any)["wamid"] != nil {
			ok++
		}
	}
	if ok != 2 || results[2].(map[string]any)["error"] == nil || s.sim.Counters().Accepted != 2 {
		t.Fatalf("test send: %v", r)
	}
	s.call("POST", "/v1/broadcasts/test-send", map[string]any{"channel_id": channel, "template_id": template,
		"phones": make([]string, 11)}, 400)
}
