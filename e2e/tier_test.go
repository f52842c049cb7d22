package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// A broadcast of 300 to a tier of 250 unique recipients a day says so plainly: its creation warns
// that the 50 held would pass its expiry; 250 go, the report counts the 50 held by the tier with
// when the next goes, and the broadcast waits for the tier. When 20 counted recipients' 24 h pass
// (moved back in Redis), 20 of the held go, and no more.
func TestTierToldPlainly(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, template := s.setup(250)
	importContacts(t, s, 300, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Tiered", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "expires_at": time.Now().Add(2 * time.Hour).Format(time.RFC3339)}, 201)
	id := int64(b["id"].(float64))
	est := b["audience_estimate"].(map[string]any)
	if est["held_by_tier"] != 50.0 || !strings.Contains(fmt.Sprint(est["warning"]), "after the broadcast expires") {
		t.Errorf("the estimate: %v, want 50 held by the tier and a warning about the expiry", est)
	}
	testenv.Eventually(t, "the tier used and the rest held", 60*time.Second, func() bool {
		rep := s.report(id)
		return s.sim.Counters().Accepted == 250 && rep["held_by_tier"] == 50.0
	})
	testenv.Eventually(t, "waiting for the tier", 20*time.Second, func() bool {
		return s.call("GET", fmt.Sprintf("/v1/broadcasts/%d", id), nil, 200)["state"] == "waiting_for_tier"
	})
	next, _ := time.Parse(time.RFC3339Nano, s.report(id)["tier_next_at"].(string))
	if d := time.Until(next); d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("the next held message goes in %v, want when the first recipient's 24 h pass", d)
	}

	// 20 of the counted recipients were reached a day ago: their slots free.
	var portfolio int64
	ctx := context.Background()
	if err := s.pool.QueryRow(ctx, `SELECT portfolio_id FROM channels WHERE id = $1`, channel).Scan(&portfolio); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("wa:{p%d}:tier", portfolio)
	oldest, err := s.rdb.ZRange(ctx, key, 0, 19).Result()
	if err != nil || len(oldest) != 20 {
		t.Fatalf("the tier's recipients: %v %v", oldest, err)
	}
	for _, r := range oldest {
		s.rdb.ZAdd(ctx, key, redis.Z{Score: float64(time.Now().Add(-24*time.Hour - time.Minute).UnixMilli()), Member: r})
	}
	testenv.Eventually(t, "20 more", 60*time.Second, func() bool {
		return s.report(id)["held_by_tier"] == 30.0 && s.sim.Counters().Accepted >= 270
	})
	time.Sleep(2 * time.Second) // anything past the tier would go out now
	if c := s.sim.Counters(); c.Accepted != 270 || c.UniqueRecipients != 270 {
		t.Errorf("%d sent to %d recipients, want 270", c.Accepted, c.UniqueRecipients)
	}
}
