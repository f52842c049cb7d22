package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// A channel with the Marketing Messages API on, whose business Meta has not onboarded: the first
// marketing sends are refused, the channel notes the refusal (its marketing templates go through
// Cloud API from then on) and every recipient gets the broadcast once, through /messages. Once
// Meta onboards the business and the user turns the API on again, a broadcast goes through it, is
// priced as marketing_lite, and the report splits the funnel by path; a utility template still
// goes through Cloud API.
func TestMarketingMessagesWithFallback(t *testing.T) {
	t.Parallel() // counts no sends per second of another test
	s := newStack(t, metasim.Config{TimeScale: 100}, 80)
	channel, template := s.setup("unlimited")
	importContacts(t, s, 200, utc)
	path := fmt.Sprintf("/v1/channels/%d", channel)
	if c := s.call("PATCH", path, map[string]any{"marketing_messages": true}, 200); c["marketing_messages"] != "on" {
		t.Fatalf("turned on: %v", c["marketing_messages"])
	}
	broadcast := func(name string, tpl int64) int64 {
		b := s.call("POST", "/v1/broadcasts", map[string]any{"name": name, "channel_id": channel, "template_id": tpl,
			"audience": map[string]any{"tag": "all"}}, 201)
		id := int64(b["id"].(float64))
		testenv.Eventually(t, name+" delivered", 60*time.Second, func() bool {
			return s.status(id) == "completed" && s.report(id)["delivered"] == 200.0
		})
		return id
	}

	first := broadcast("Before onboarding", template)
	c := s.call("GET", path, nil, 200)
	if c["marketing_messages"] != "refused" || c["marketing_messages_note"] == "" || c["marketing_messages_at"] == nil {
		t.Errorf("after Meta refused it: %v, %q, %v", c["marketing_messages"], c["marketing_messages_note"], c["marketing_messages_at"])
	}
	counts := s.sim.Counters()
	if counts.RefusedByCode[134100] == 0 || counts.Accepted != 200 || counts.UniqueRecipients != 200 || len(counts.RepeatRecipients) > 0 {
		t.Errorf("before onboarding: %d refused, %d accepted for %d recipients (repeated: %v)", counts.RefusedByCode[134100],
			counts.Accepted, counts.UniqueRecipients, counts.RepeatRecipients)
	}
	if got := fmt.Sprint(s.report(first)["by_path"]); got != "map[messages:map[delivered:200 failed:0 read:0 sent:200]]" {
		t.Errorf("the first broadcast by path: %s", got)
	}

	s.sim.AddNumber(metasim.Number{PhoneNumberID: phoneNumberID, WABAID: wabaID, DisplayNumber: "+14155550199", Token: token, MPS: 80,
		Portfolio: "p", MarketingMessages: true})
	s.call("PATCH", path, map[string]any{"marketing_messages": true}, 200)
	s.sim.Reset()
	second := broadcast("After onboarding", template)
	viaMM := 0
	for _, r := range s.sim.Records(0, "") {
		if r.MarketingMessages {
			viaMM++
		}
	}
	if counts := s.sim.Counters(); viaMM != 200 || counts.Accepted != 200 || len(counts.RefusedByCode) > 0 {
		t.Errorf("after onboarding: %d of %d through the MM API, refused %v", viaMM, counts.Accepted, counts.RefusedByCode)
	}
	mm, _ := s.report(second)["by_path"].(map[string]any)["marketing_messages"].(map[string]any)
	if mm["sent"] != 200.0 || mm["delivered"] != 200.0 {
		t.Errorf("the second broadcast through the MM API: %v", mm)
	}
	var lite int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE broadcast_id = $1 AND pricing_category = 'marketing_lite'
		AND delivery_path = 'marketing_messages'`, second).Scan(&lite); err != nil || lite != 200 {
		t.Errorf("%d messages priced marketing_lite: %v", lite, err)
	}
	if n := s.sim.Counters().PerNumber[phoneNumberID].MaxPerSecond; n > 80 {
		t.Errorf("%d sends in one second on an 80 mps number", n)
	}

	s.sim.Reset()
	utility := s.call("POST", "/v1/templates", map[string]any{"name": "receipt", "language": "en", "category": "utility",
		"components": map[string]any{"body": map[string]any{"text": "Your receipt."}}}, 201)
	s.sim.AddTemplate(metasim.Template{Name: "receipt", Language: "en", Category: "utility"})
	broadcast("Receipts", int64(utility["id"].(float64)))
	for _, r := range s.sim.Records(0, "") {
		if r.MarketingMessages {
			t.Fatal("a utility template went through the Marketing Messages API")
		}
	}
}
