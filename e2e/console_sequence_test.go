package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// The drip path in a real browser: an owner builds a three-step sequence started by an event with
// a filter, with a send window, and activates it; events sent through the API enroll the
// contacts they pass (the drip clock runs two hours a second); enrollments advance through the
// steps, within the window; a reply ends one; the sequence's page counts them, and the replier's
// journey shows where they left. Not parallel, like the settings path: one browser at a time.
func TestConsoleSequencePath(t *testing.T) {
	s := newDripStack(t)
	channel, _ := s.setup("unlimited")
	welcome := s.template("welcome", map[string]any{"source": "contact", "field": "first_name", "fallback": "friend"})
	reminder := s.template("cart_reminder", map[string]any{"source": "event", "key": "item"})
	var account int64
	if err := s.pool.QueryRow(context.Background(), `SELECT id FROM accounts`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.api)
	b.welcome(s.createUser(account, "owner@example.com", "owner"))

	// Build: trigger and filter, three steps (each "+" is a round trip that keeps what was typed),
	// a window in UTC, exit on reply (ticked for a new sequence).
	set := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(sel), value)
	}
	b.run(b.open("/sequences"), chromedp.Click(chromedp.CSS("#new-sequence")), chromedp.WaitVisible(chromedp.CSS("#sequence-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Cart rescue"), set("#channel_id", fmt.Sprint(channel)),
		chromedp.Click(chromedp.CSS("#starts-event")), chromedp.SendKeys(chromedp.CSS("#trigger_event"), "cart.abandoned"),
		chromedp.Click(chromedp.CSS("#add-filter")), chromedp.WaitVisible(chromedp.CSS(`[name="tf.0.property"]`)),
		chromedp.SendKeys(chromedp.CSS(`[name="tf.0.property"]`), "total"), set(`[name="tf.0.op"]`, "gte"),
		chromedp.SendKeys(chromedp.CSS(`[name="tf.0.value"]`), "50"),
		set("#time_zone", "UTC"), chromedp.Click(chromedp.CSS("#win-on")), set("#win-start", "09:00"), set("#win-end", "21:00"),
		set("#s-0-template", fmt.Sprint(welcome)),
		chromedp.Click(chromedp.CSS("#add-step")), chromedp.WaitVisible(chromedp.CSS("#s-1-template")),
		set("#s-1-template", fmt.Sprint(reminder)),
		chromedp.Click(chromedp.CSS("#add-step")), chromedp.WaitVisible(chromedp.CSS("#s-2-template")),
		set("#s-2-template", fmt.Sprint(welcome)))
	if v := get(b, chromedp.Value(chromedp.CSS(`[name="tf.0.value"]`))); v != "50" {
		t.Fatalf("the filter's value after two round trips: %q", v)
	}
	if !get(b, chromedp.Evaluate[bool](`document.querySelector("#exit_reply").checked`)) {
		t.Fatal("a new sequence should exit on reply")
	}
	b.screenshot("sequence-builder", true)
	b.run(chromedp.Click(chromedp.CSS("#save-activate")))
	var loc string
	testenv.Eventually(t, "the sequence's page", 10*time.Second, func() bool {
		loc = get(b, chromedp.Location())
		return regexp.MustCompile(`/sequences/\d+\?done=activate$`).MatchString(loc)
	})
	b.run(chromedp.WaitVisible(chromedp.CSS("#sequence-status")))
	if st := b.text("#sequence-status"); !strings.HasPrefix(st, "active") {
		t.Fatalf("after save and activate: %q", st)
	}
	seq, _ := strconv.ParseInt(regexp.MustCompile(`/sequences/(\d+)`).FindStringSubmatch(loc)[1], 10, 64)

	// Events through the API: three carts pass the filter, one does not.
	replier, buyers := "+12125550301", []string{"+12125550302", "+12125550303"}
	cart := func(phone string, total int) {
		s.call("POST", "/v1/events", map[string]any{"contact": map[string]any{"phone": phone, "name": "Buyer"}, "name": "cart.abandoned",
			"id": "cart-" + phone, "properties": map[string]any{"total": total, "item": "boots"}}, 202)
	}
	cart(replier, 80)
	for _, p := range buyers {
		cart(p, 120)
	}
	small := "+12125550304"
	cart(small, 20)
	testenv.Eventually(t, "step 1 to the three", 30*time.Second, func() bool {
		return len(s.sends(replier)) == 1 && len(s.sends(buyers[0])) == 1 && len(s.sends(buyers[1])) == 1
	})
	// The reply comes once step 1 is delivered, as a person's would: it is charged to that message.
	testenv.Eventually(t, "step 1 delivered to the replier", 20*time.Second, func() bool {
		var n int
		_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id
			WHERE c.phone = $1 AND m.delivered_at IS NOT NULL`, replier).Scan(&n)
		return n == 1
	})
	if err := s.sim.Inbound(metasim.Inbound{PhoneNumberID: phoneNumberID, From: replier, Text: "Is it still in stock?"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "all three steps to the buyers", 90*time.Second, func() bool {
		return len(s.sends(buyers[0])) == 3 && len(s.sends(buyers[1])) == 3
	})
	if n, m := len(s.sends(replier)), len(s.sends(small)); n != 1 || m != 0 {
		t.Fatalf("the replier got %d messages (want 1), the small cart %d (want 0)", n, m)
	}
	for _, p := range append(buyers, replier) {
		for _, at := range s.stepTimes(seq, p) {
			if h := at.UTC().Hour(); h < 9 || h >= 21 {
				t.Errorf("%s: a step ran at %s, outside 09:00–21:00 UTC", p, at.UTC().Format(time.TimeOnly))
			}
		}
	}

	// The sequence's page counts them; the replier's journey shows where they left.
	b.run(b.open(fmt.Sprintf("/sequences/%d", seq)), chromedp.WaitVisible(chromedp.CSS("#step-chart")))
	if done, counts := b.text("#completed"), b.text("#enrollment-counts"); done != "2" || !strings.Contains(counts, "Left: replied") {
		t.Fatalf("the page counts %s completed: %q", done, counts)
	}
	if replied := b.text("#steps tbody tr:first-child td:nth-child(7)"); replied != "1" {
		t.Errorf("step 1's funnel counts %s replies, want 1", replied)
	}
	b.screenshot("sequence", true)
	var enrollment int64
	if err := s.pool.QueryRow(context.Background(), `SELECT e.id FROM enrollments e JOIN contacts c ON c.id = e.contact_id
		WHERE c.phone = $1`, replier).Scan(&enrollment); err != nil {
		t.Fatal(err)
	}
	b.run(b.open(fmt.Sprintf("/enrollments/%d", enrollment)), chromedp.WaitVisible(chromedp.CSS("#journey")))
	if st, steps := b.text("#journey-status"), b.text("#journey tbody"); !strings.Contains(st, "replied") || strings.Count(steps, "not_reached") != 2 {
		t.Fatalf("the replier's journey: %q, steps %q", st, steps)
	}
	if replied := b.text("#journey tbody tr:first-child td:last-child"); replied == "–" {
		t.Error("the journey's first step does not show the reply")
	}
	b.screenshot("journey")
}
