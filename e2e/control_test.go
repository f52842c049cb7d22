package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

func importContacts(t testing.TB, s *stack, n int, zone func(i int) string) {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("phone,name,tags,opted_in,time_zone\n")
	for i := range n {
		fmt.Fprintf(&csv, "%s,Person %d,all,yes,%s\n", phoneOf(i), i, zone(i))
	}
	if r := s.call("POST", "/v1/contacts/import", csv.String(), 200); r["created"].(float64) != float64(n) {
		t.Fatalf("import: %v", r)
	}
}

func utc(int) string { return "UTC" }

// Pause stops sends within a second; resume continues where it stopped; nothing is sent twice.
func TestPauseAndResume(t *testing.T) {
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 3000, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Slow", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "rate_cap": 200}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "first sends", 20*time.Second, func() bool { return s.sim.Counters().Accepted > 300 })
	s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/pause", id), nil, 200)
	time.Sleep(time.Second) // sends already past their claim may still land
	atPause := s.sim.Counters().Accepted
	time.Sleep(2 * time.Second)
	if after := s.sim.Counters().Accepted; after != atPause || atPause >= 3000 {
		t.Fatalf("paused at %d sends, then %d more went out", atPause, after-atPause)
	}
	s.call("POST", fmt.Sprintf("/v1/broadcasts/%d/resume", id), nil, 200)
	testenv.Eventually(t, "completed", 60*time.Second, func() bool { return s.status(id) == "completed" })
	c := s.sim.Counters()
	if c.Accepted != 3000 || c.UniqueRecipients != 3000 || len(c.RepeatRecipients) != 0 {
		t.Fatalf("after resume: %d sends to %d recipients, %d repeated", c.Accepted, c.UniqueRecipients, len(c.RepeatRecipients))
	}
	// The rate cap is met at admission; arrival at metasim adds jitter (much of it under -race on
	// a loaded machine), so a second seen there may hold a few more.
	if max := c.PerNumber[phoneNumberID].MaxPerSecond; max > 220 {
		t.Fatalf("rate cap 200 but %d in one second", max)
	}
}

// A portfolio's tier holds the audience past it: exactly the tier is sent, the rest waits, none
// is lost.
func TestTierHoldsTheRest(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100, DefaultTier: 2000}, 1000)
	channel, template := s.setup(2000)
	importContacts(t, s, 2500, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Tiered", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "the tier is used", 30*time.Second, func() bool { return s.sim.Counters().Accepted == 2000 })
	// What was queued when the tier filled goes back to waiting (under load, seconds later).
	testenv.Eventually(t, "the rest waits", 15*time.Second, func() bool { return s.report(id)["waiting"].(float64) == 500 })
	time.Sleep(time.Second)
	c := s.sim.Counters()
	rep := s.report(id)
	if c.Accepted != 2000 || c.TierBreaches != 0 || rep["waiting"].(float64) != 500 || s.status(id) != "running" {
		t.Fatalf("sent %d (tier breaches %d), report %v", c.Accepted, c.TierBreaches, rep)
	}
}

// A wall-clock time in each contact's zone, across zones and a daylight-saving change: on
// 2030-11-03 New York leaves daylight time, so 10:00 there is 15:00 UTC (14:00 on 31 October).
func TestLocalTimeAcrossZones(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{}, 1000)
	channel, template := s.setup("unlimited")
	zones := []string{"Asia/Kolkata", "America/New_York", "Europe/London", "Australia/Sydney"}
	importContacts(t, s, 4, func(i int) string { return zones[i] })
	for _, day := range []string{"2030-10-31", "2030-11-03"} {
		b := s.call("POST", "/v1/broadcasts", map[string]any{"name": day, "channel_id": channel, "template_id": template,
			"audience": map[string]any{"tag": "all"}, "local_date": day, "local_time": "10:00"}, 201)
		id := int64(b["id"].(float64))
		// Start it now, as if 10:00 had come in UTC+14, and let the expansion compute each due time.
		if _, err := s.pool.Exec(context.Background(), "UPDATE broadcasts SET send_at = now() WHERE id = $1", id); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, "expanded", 10*time.Second, func() bool { return s.report(id)["audience"].(float64) == 4 })
		rows, err := s.pool.Query(context.Background(), `SELECT c.time_zone, to_char(m.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
			FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE m.broadcast_id = $1 ORDER BY c.id`, id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var zone, due string
			_ = rows.Scan(&zone, &due)
			got[zone] = due
		}
		want := map[string]map[string]string{
			"2030-10-31": {"Asia/Kolkata": "2030-10-31 04:30", "America/New_York": "2030-10-31 14:00", "Europe/London": "2030-10-31 10:00", "Australia/Sydney": "2030-10-30 23:00"},
			"2030-11-03": {"Asia/Kolkata": "2030-11-03 04:30", "America/New_York": "2030-11-03 15:00", "Europe/London": "2030-11-03 10:00", "Australia/Sydney": "2030-11-02 23:00"},
		}[day]
		for zone, due := range want {
			if got[zone] != due {
				t.Errorf("%s, 10:00 in %s: due %s UTC, want %s", day, zone, got[zone], due)
			}
		}
	}
}

// A send window that is closed today holds every message until it opens.
func TestSendWindowHoldsMessages(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 20, utc)
	days := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	today := (int(time.Now().UTC().Weekday()) + 6) % 7 // Monday first
	var open []string
	for i, d := range days {
		if i != today {
			open = append(open, d)
		}
	}
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "w", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "send_window": map[string]any{"days": open, "start": "00:00", "end": "24:00"}}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "expanded", 10*time.Second, func() bool { return s.report(id)["waiting"].(float64) == 20 })
	time.Sleep(2 * time.Second)
	if n := s.sim.Counters().Accepted; n != 0 {
		t.Fatalf("%d sent on a closed day", n)
	}
	var first time.Time
	_ = s.pool.QueryRow(context.Background(), "SELECT min(due_at) FROM messages WHERE broadcast_id = $1", id).Scan(&first)
	tomorrow := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if !first.Equal(tomorrow) {
		t.Fatalf("due %s, want the window's opening %s", first, tomorrow)
	}
}

// Messages not sent by a broadcast's expiry are dropped with the reason, and it completes.
func TestExpiryDropsTheRest(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 100, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "flash", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "rate_cap": 10, "expires_at": time.Now().Add(3 * time.Second)}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "completed", 30*time.Second, func() bool { return s.status(id) == "completed" })
	rep := s.report(id)
	expired := rep["skipped"].(map[string]any)["expired"].(float64)
	if sent := s.sim.Counters().Accepted; expired == 0 || float64(sent)+expired != 100 {
		t.Fatalf("sent %d, expired %v: %v", sent, expired, rep)
	}
}

// On a YELLOW number marketing slows to the account's share of its throughput.
func TestYellowQualitySlowsMarketing(t *testing.T) {
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 400, utc)
	s.call("PATCH", fmt.Sprintf("/v1/channels/%d", channel), map[string]any{"quality_rating": "YELLOW"}, 200)
	s.call("PUT", "/v1/account/settings", map[string]any{"yellow_rate_factor": 0.1}, 200)
	id := s.broadcast(channel, template)
	testenv.Eventually(t, "completed", 30*time.Second, func() bool { return s.status(id) == "completed" })
	if max := s.sim.Counters().PerNumber[phoneNumberID].MaxPerSecond; max > 115 || max < 50 { // jitter: see TestPauseAndResume
		t.Fatalf("a 1,000/s number at a tenth sent %d in one second", max)
	}
}

// Meta pauses the template mid-broadcast: the broadcast pauses with the reason, no message is
// lost, and it resumes by itself when Meta approves the template again.
func TestTemplatePausedByMetaMidBroadcast(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 600, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "p", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "rate_cap": 100}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "first sends", 20*time.Second, func() bool { return s.sim.Counters().Accepted > 100 })
	if err := s.sim.TemplateStatus(metasim.TemplateChange{PhoneNumberID: phoneNumberID, Name: "promo", Language: "en", Event: "PAUSED"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "paused", 10*time.Second, func() bool { return s.status(id) == "paused" })
	got := s.call("GET", fmt.Sprintf("/v1/broadcasts/%d", id), nil, 200)
	if got["status_reason"] != "paused automatically: template paused by Meta" && got["status_reason"] != "paused automatically: template paused" {
		t.Fatalf("reason %q", got["status_reason"])
	}
	time.Sleep(time.Second)
	if err := s.sim.TemplateStatus(metasim.TemplateChange{PhoneNumberID: phoneNumberID, Name: "promo", Language: "en", Event: "REINSTATED"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "completed after reinstatement", 60*time.Second, func() bool { return s.status(id) == "completed" })
	// Meta flags the template: it still sends, its page says when Meta would disable it.
	if err := s.sim.TemplateStatus(metasim.TemplateChange{PhoneNumberID: phoneNumberID, Name: "promo", Language: "en", Event: "FLAGGED"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the flag", 10*time.Second, func() bool {
		tpl := s.call("GET", fmt.Sprintf("/v1/templates/%d", template), nil, 200)
		return tpl["status"] == "approved" && tpl["disable_date"] != nil
	})
	var events []string
	for _, e := range s.call("GET", fmt.Sprintf("/v1/templates/%d/history", template), nil, 200)["data"].([]any) {
		events = append(events, e.(map[string]any)["event"].(string))
	}
	if !slices.Equal(events, []string{"FLAGGED", "REINSTATED", "PAUSED"}) {
		t.Errorf("the template's history, newest first: %v", events)
	}
	// Meta re-rates the template: its page says so.
	if err := s.sim.TemplateQuality(metasim.TemplateQualityChange{PhoneNumberID: phoneNumberID, Name: "promo", Language: "en", Quality: "YELLOW"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the quality score", 10*time.Second, func() bool {
		return s.call("GET", fmt.Sprintf("/v1/templates/%d", template), nil, 200)["quality_score"] == "YELLOW"
	})
	c := s.sim.Counters()
	rep := s.report(id)
	if c.Accepted != 600 || c.UniqueRecipients != 600 || len(c.RepeatRecipients) != 0 || len(rep["failed"].(map[string]any)) != 0 {
		t.Fatalf("after the pause: %d sends to %d recipients, report %v", c.Accepted, c.UniqueRecipients, rep)
	}
}
