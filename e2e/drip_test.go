package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/integrations"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// dripScale runs the drip engine's clock two hours per second: a day passes in 12 seconds.
const dripScale = 7200

func newDripStack(t *testing.T) *stack {
	s := newStackAt(t, metasim.Config{}, 1000, clock.NewScaled(dripScale))
	s.sim.AddTemplate(metasim.Template{Name: "cart_reminder", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
	s.sim.AddTemplate(metasim.Template{Name: "welcome", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
	return s
}

// template registers a utility template whose one body parameter comes from src.
func (s *stack) template(name string, src map[string]any) int64 {
	tp := s.call("POST", "/v1/templates", map[string]any{"name": name, "language": "en", "category": "utility",
		"components": map[string]any{"body": map[string]any{"text": "Hello: {{1}}"}},
		"parameters": map[string]any{"body.1": src}}, 201)
	return int64(tp["id"].(float64))
}

func (s *stack) sequence(def map[string]any) int64 {
	seq := s.call("POST", "/v1/sequences", def, 201)
	id := int64(seq["id"].(float64))
	s.call("POST", fmt.Sprintf("/v1/sequences/%d/activate", id), nil, 200)
	return id
}

// sends lists the messages metasim accepted for a phone.
func (s *stack) sends(phone string) []metasim.Record {
	var out []metasim.Record
	for _, r := range s.sim.Records(0, phone) {
		if r.Accepted() {
			out = append(out, r)
		}
	}
	return out
}

// enrollments reads a sequence's enrollments by contact phone.
func (s *stack) enrollments(seq int64) map[string]map[string]any {
	page := s.call("GET", fmt.Sprintf("/v1/sequences/%d/enrollments?limit=200", seq), nil, 200)
	out := map[string]map[string]any{}
	for _, e := range page["data"].([]any) {
		m := e.(map[string]any)
		out[m["phone"].(string)] = m
	}
	return out
}

// stepTimes reads, from Postgres, when each step of a contact's enrollment ran on the engine's clock.
func (s *stack) stepTimes(seq int64, phone string) []time.Time {
	rows, err := s.pool.Query(context.Background(), `
		SELECT (m.context ->> 'scheduled_at')::timestamptz FROM messages m
		JOIN enrollments e ON e.id = m.enrollment_id JOIN contacts c ON c.id = e.contact_id
		WHERE e.sequence_id = $1 AND c.phone = $2 ORDER BY e.id, m.step`, seq, phone)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, t)
	}
	return out
}

// hook posts a Shopify delivery to an integration URL.
func (s *stack) shopify(url, secret, topic, id string, payload map[string]any) int {
	body, _ := json.Marshal(payload)
	req, _ := http.NewRequest("POST", s.api+url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(integrations.ShopifyTopic, topic)
	req.Header.Set(integrations.ShopifyWebhookID, id)
	req.Header.Set(integrations.ShopifyHMAC, integrations.SignShopify(body, secret))
	req.Header.Set(integrations.ShopifyTriggeredAt, time.Now().UTC().Format(time.RFC3339Nano))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// late says a step's delay got is want, or later by at most 3 s of real time (6 hours on the
// scaled clock): a step never runs early, the drip job ticks every half second, and the tests run
// beside others on two cores (a step came 1.7 s late there).
func late(got, want time.Duration) bool { return got >= want && got <= want+3*time.Second*dripScale }

// The abandoned-cart sequence from Shopify: a checkout enrolls the buyer; step 1 goes an hour
// later with the cart's link, step 2 a day after that; an order ends the sequence. Deliveries are
// signed, deduplicated by their body, and a forged one is refused and not stored.
func TestAbandonedCartSequence(t *testing.T) {
	t.Parallel() // no test here counts sends per second
	s := newDripStack(t)
	channel, _ := s.setup("unlimited")
	tpl := s.template("cart_reminder", map[string]any{"source": "event", "key": "checkout_url"})
	seq := s.sequence(map[string]any{"name": "Abandoned cart", "channel_id": channel,
		"trigger": map[string]any{"event": "cart.abandoned"},
		"exit":    map[string]any{"success": map[string]any{"events": []string{"order.placed"}}},
		"steps": []map[string]any{
			{"template_id": tpl, "delay": map[string]any{"amount": 1, "unit": "hours"}},
			{"template_id": tpl, "delay": map[string]any{"amount": 24, "unit": "hours"}},
		}})
	const secret = "shpss_0123456789abcdef"
	url := s.call("POST", "/v1/integrations", map[string]any{"name": "Shop", "kind": "shopify", "secret": secret}, 201)["url"].(string)

	checkout := func(phone, token string) map[string]any {
		return map[string]any{"token": token, "phone": phone, "abandoned_checkout_url": "https://shop.example/cart/" + token,
			"total_price": "49.90", "customer": map[string]any{"first_name": "Asha"}}
	}
	order := func(phone string, id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprint("#", id), "phone": phone, "total_price": "49.90"}
	}
	abandons, buysLater, buysAtOnce := "+12125550101", "+12125550102", "+12125550103"
	for i, p := range []string{abandons, buysLater, buysAtOnce} {
		if got := s.shopify(url, secret, "checkouts/create", fmt.Sprint("c", i), checkout(p, fmt.Sprint("tok", i))); got != 202 {
			t.Fatalf("checkout: %d", got)
		}
	}
	// Shopify retries a delivery with the same id; a forged delivery is refused.
	if got := s.shopify(url, secret, "checkouts/create", "c0", checkout(abandons, "tok0")); got != 202 {
		t.Fatalf("redelivery: %d", got)
	}
	if got := s.shopify(url, "wrong-secret-0123456789", "orders/create", "forged", order(abandons, 1001)); got != 401 {
		t.Fatalf("forged delivery: %d", got)
	}
	if got := s.shopify(url, secret, "orders/create", "o3", order(buysAtOnce, 1003)); got != 202 {
		t.Fatalf("order: %d", got)
	}

	testenv.Eventually(t, "step 1 to the cart abandoners", 20*time.Second, func() bool {
		return len(s.sends(abandons)) == 1 && len(s.sends(buysLater)) == 1
	})
	if got := s.sends(abandons)[0].BodyParams; len(got) != 1 || got[0] != "https://shop.example/cart/tok0" {
		t.Errorf("step 1 parameters: %v, want the cart's link from the event", got)
	}
	if got := s.shopify(url, secret, "orders/create", "o2", order(buysLater, 1002)); got != 202 {
		t.Fatalf("order: %d", got)
	}
	testenv.Eventually(t, "step 2", 30*time.Second, func() bool { return len(s.sends(abandons)) == 2 })
	// metasim counts a send when the request arrives; the worker records it after the answer.
	testenv.Eventually(t, "enrollments and sends settle", 10*time.Second, func() bool {
		e := s.enrollments(seq)
		var inFlight int
		_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')`).Scan(&inFlight)
		return e[abandons]["status"] == "completed" && e[buysLater]["status"] == "exited" && e[buysAtOnce]["status"] == "exited" && inFlight == 0
	})
	e := s.enrollments(seq)
	if len(e) != 3 || e[buysLater]["exit_reason"] != "success" || e[buysAtOnce]["exit_reason"] != "success" {
		t.Errorf("enrollments: %v", e)
	}
	if n := len(s.sends(buysLater)); n != 1 {
		t.Errorf("the buyer after step 1 got %d messages, want 1", n)
	}
	if n := len(s.sends(buysAtOnce)); n != 0 {
		t.Errorf("the buyer before step 1 got %d messages, want 0", n)
	}
	times := s.stepTimes(seq, abandons)
	enrolled, _ := time.Parse(time.RFC3339Nano, e[abandons]["enrolled_at"].(string))
	if len(times) != 2 || !late(times[0].Sub(enrolled), time.Hour) || !late(times[1].Sub(times[0]), 24*time.Hour) {
		t.Errorf("step times on the engine's clock: enrolled %s, steps %v", enrolled, times)
	}
	var deliveries, stored int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE delivery_id = 'forged') FROM integration_deliveries`).Scan(&deliveries, &stored); err != nil {
		t.Fatal(err)
	}
	if deliveries != 5 || stored != 0 {
		t.Errorf("deliveries stored: %d (forged %d), want 5 and 0", deliveries, stored)
	}

	rep := s.call("GET", fmt.Sprintf("/v1/sequences/%d/report", seq), nil, 200)["report"].(map[string]any)
	if rep["enrolled"].(float64) != 3 || rep["completed"].(float64) != 1 || rep["exited"].(map[string]any)["success"].(float64) != 2 {
		t.Errorf("report: %v", rep)
	}
	steps := rep["steps"].([]any)
	if len(steps) != 2 || steps[0].(map[string]any)["sent"].(float64) != 2 || steps[1].(map[string]any)["sent"].(float64) != 1 {
		t.Errorf("step funnel: %v", steps)
	}
	journey := s.call("GET", fmt.Sprintf("/v1/enrollments/%d", int64(e[abandons]["id"].(float64))), nil, 200)
	for _, st := range journey["steps"].([]any) {
		if state := st.(map[string]any)["state"]; state != "sent" && state != "delivered" && state != "read" {
			t.Errorf("journey step: %v", st)
		}
	}
}

// A welcome sequence starts when a contact is created and waits for its send window, in the
// contact's own zone; a contact created before the sequence was active is not enrolled.
func TestWelcomeSequenceWithWindow(t *testing.T) {
	t.Parallel() // no test here counts sends per second
	s := newDripStack(t)
	channel, _ := s.setup("unlimited")
	tpl := s.template("welcome", map[string]any{"source": "contact", "field": "first_name", "fallback": "friend"})
	before := "+919820000001"
	s.call("POST", "/v1/contacts", map[string]any{"phone": before, "name": "Early Bird"}, 201)

	// The window: all of tomorrow (on the engine's clock) in Kolkata.
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	tomorrow := s.clock.Now().In(kolkata).AddDate(0, 0, 1)
	day := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[tomorrow.Weekday()]
	seq := s.sequence(map[string]any{"name": "Welcome", "channel_id": channel,
		"trigger":     map[string]any{"event": "contact.created"},
		"send_window": map[string]any{"days": []string{day}, "start": "00:00", "end": "24:00"},
		"steps":       []map[string]any{{"template_id": tpl}}})
	newcomer := "+919820000002"
	s.call("POST", "/v1/contacts", map[string]any{"phone": newcomer, "name": "Ravi Kumar"}, 201)

	testenv.Eventually(t, "welcome sent", 40*time.Second, func() bool { return len(s.sends(newcomer)) == 1 })
	if got := s.sends(newcomer)[0].BodyParams; len(got) != 1 || got[0] != "Ravi" {
		t.Errorf("welcome parameters: %v", got)
	}
	times := s.stepTimes(seq, newcomer)
	opens := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 0, 0, 0, 0, kolkata)
	if len(times) != 1 || times[0].Before(opens) || times[0].In(kolkata).Weekday() != tomorrow.Weekday() {
		t.Errorf("sent at %v on the engine's clock; the window opens %s", times, opens)
	}
	if n := len(s.enrollments(seq)); n != 1 || len(s.sends(before)) != 0 {
		t.Errorf("enrollments %d, sends to the earlier contact %d", n, len(s.sends(before)))
	}
}

// Replying ends a sequence that exits on reply; STOP ends it and opts the contact out; the
// others go on.
func TestSequenceExitsOnReplyAndStop(t *testing.T) {
	t.Parallel() // no test here counts sends per second
	s := newDripStack(t)
	channel, promo := s.setup("unlimited")
	seq := s.sequence(map[string]any{"name": "Nurture", "channel_id": channel,
		"exit": map[string]any{"on_reply": true},
		"steps": []map[string]any{
			{"template_id": promo},
			{"template_id": promo, "delay": map[string]any{"amount": 1, "unit": "days"}},
			{"template_id": promo, "delay": map[string]any{"amount": 1, "unit": "days"}},
		}})
	replier, stopper, quiet := "+12125550111", "+12125550112", "+12125550113"
	for _, p := range []string{replier, stopper, quiet} {
		s.call("POST", "/v1/contacts", map[string]any{"phone": p, "opted_in": true, "name": "N"}, 201)
		s.call("POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"phone": p}, 201)
	}
	s.call("POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"phone": quiet}, 409) // run once
	testenv.Eventually(t, "step 1 to all", 20*time.Second, func() bool {
		return len(s.sends(replier)) == 1 && len(s.sends(stopper)) == 1 && len(s.sends(quiet)) == 1
	})
	if err := s.sim.Inbound(metasim.Inbound{PhoneNumberID: phoneNumberID, From: replier, Text: "Tell me more"}); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.Inbound(metasim.Inbound{PhoneNumberID: phoneNumberID, From: stopper, Text: "STOP"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "all three steps to the quiet one", 60*time.Second, func() bool { return len(s.sends(quiet)) == 3 })
	e := s.enrollments(seq)
	if e[replier]["exit_reason"] != "replied" || e[stopper]["exit_reason"] != "opted_out" || e[quiet]["status"] != "completed" {
		t.Errorf("enrollments: %v %v %v", e[replier], e[stopper], e[quiet])
	}
	if len(s.sends(replier)) != 1 || len(s.sends(stopper)) != 1 {
		t.Errorf("after exiting: replier got %d, stopper %d messages", len(s.sends(replier)), len(s.sends(stopper)))
	}
}

// Run once: a second event does not enroll again. Re-entry: a second event during the cooling
// period is refused, one after it enrolls again. Events with the same id count once.
func TestRunOnceAndReentry(t *testing.T) {
	t.Parallel() // no test here counts sends per second
	s := newDripStack(t)
	channel, _ := s.setup("unlimited")
	tpl := s.template("welcome", map[string]any{"source": "event", "key": "order_id"})
	once := s.sequence(map[string]any{"name": "Once", "channel_id": channel, "trigger": map[string]any{"event": "order.placed"},
		"steps": []map[string]any{{"template_id": tpl}}})
	again := s.sequence(map[string]any{"name": "Again", "channel_id": channel, "trigger": map[string]any{"event": "order.placed",
		"filter": []map[string]any{{"property": "total", "op": "gte", "value": 10}}},
		"run_once": false, "reentry_after": map[string]any{"amount": 1, "unit": "days"},
		"steps": []map[string]any{{"template_id": tpl}}})
	phone := "+12125550121"
	event := func(id string, total float64) map[string]any {
		return s.call("POST", "/v1/events", map[string]any{"contact": map[string]any{"phone": phone, "name": "Buyer"},
			"name": "order.placed", "id": id, "properties": map[string]any{"order_id": id, "total": total}}, 202)
	}
	event("A-1", 20)
	if dup := event("A-1", 20); dup["duplicate"] != true {
		t.Errorf("the same event id again: %v", dup)
	}
	testenv.Eventually(t, "both sequences sent", 20*time.Second, func() bool { return len(s.sends(phone)) == 2 })
	event("A-2", 20) // within the cooling period
	event("A-3", 5)  // filtered out
	time.Sleep(2 * time.Second)
	if n := len(s.sends(phone)); n != 2 {
		t.Fatalf("cooling: %d sends, want 2", n)
	}
	time.Sleep(8 * time.Second) // the day of cooling passes on the engine's clock
	event("A-4", 20)
	testenv.Eventually(t, "re-entry", 20*time.Second, func() bool { return len(s.sends(phone)) == 3 })
	time.Sleep(time.Second)
	count := func(seq int64) int {
		var n int
		if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM enrollments WHERE sequence_id = $1`, seq).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(once) != 1 || count(again) != 2 {
		t.Errorf("enrollments: once %d (want 1), again %d (want 2)", count(once), count(again))
	}
	last := s.sends(phone)[2].BodyParams
	if len(last) != 1 || last[0] != "A-4" {
		t.Errorf("re-entry parameters: %v", last)
	}
	var events int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE name = 'order.placed'`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 4 {
		t.Errorf("%d events stored, want 4 (A-1 once)", events)
	}
}

// Pausing holds every enrolled contact where it is: no step goes while paused, and each
// continues once on resume.
func TestPauseAndResumeSequence(t *testing.T) {
	t.Parallel() // no test here counts sends per second
	s := newDripStack(t)
	channel, _ := s.setup("unlimited")
	tpl := s.template("welcome", map[string]any{"source": "contact", "field": "first_name", "fallback": "friend"})
	seq := s.sequence(map[string]any{"name": "Two steps", "channel_id": channel,
		"steps": []map[string]any{{"template_id": tpl}, {"template_id": tpl, "delay": map[string]any{"amount": 24, "unit": "hours"}}}})
	const n = 20
	phones := make([]string, n)
	for i := range phones {
		phones[i] = "+1212555" + strconv.Itoa(2000+i)
		s.call("POST", "/v1/contacts", map[string]any{"phone": phones[i]}, 201)
	}
	// Enrolled one after the other, the contacts' first steps must all go before the first
	// contact's second is due (12 s later): on a loaded machine, 40 calls took longer than 6 s.
	for _, p := range phones {
		s.call("POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"phone": p}, 201)
	}
	total := func() int { return len(s.sim.Records(0, "")) }
	testenv.Eventually(t, "step 1 to all", 20*time.Second, func() bool { return total() == n })
	s.call("POST", fmt.Sprintf("/v1/sequences/%d/pause", seq), nil, 200)
	time.Sleep(13 * time.Second) // 26 hours on the engine's clock: step 2 is overdue
	if got := total(); got != n {
		t.Fatalf("%d sends while paused, want %d", got, n)
	}
	for _, e := range s.enrollments(seq) {
		if e["status"] != "paused" {
			t.Fatalf("enrollment while paused: %v", e)
		}
	}
	s.call("POST", fmt.Sprintf("/v1/sequences/%d/resume", seq), nil, 200)
	testenv.Eventually(t, "step 2 to all", 20*time.Second, func() bool { return total() == 2*n })
	time.Sleep(time.Second)
	for _, p := range phones {
		if got := len(s.sends(p)); got != 2 {
			t.Errorf("%s got %d messages, want 2", p, got)
		}
	}
	rep := s.call("GET", fmt.Sprintf("/v1/sequences/%d/report", seq), nil, 200)["report"].(map[string]any)
	if rep["completed"].(float64) != n {
		t.Errorf("report: %v", rep)
	}
}

// A step's delay counts from when the previous step was sent. One event starts two sequences: a
// thank-you at once, and a receipt an hour later (half a second of real time), which Meta's pair
// rate then holds for 6 s (12 hours on the scaled clock) after the thank-you. The receipt's second
// step still comes 30 hours after the receipt reached Meta, not after it was due (19 hours, before).
func TestDripDelayCountsFromTheSend(t *testing.T) {
	t.Parallel() // no test here counts sends per second
	s := newDripStack(t)
	channel, _ := s.setup("unlimited")
	tpl := s.template("welcome", map[string]any{"source": "contact", "field": "first_name"})
	hours := func(n int) map[string]any { return map[string]any{"amount": n, "unit": "hours"} }
	s.sequence(map[string]any{"name": "Thanks", "channel_id": channel, "trigger": map[string]any{"event": "order.placed"},
		"steps": []map[string]any{{"template_id": tpl}}})
	receipt := s.sequence(map[string]any{"name": "Receipt", "channel_id": channel, "trigger": map[string]any{"event": "order.placed"},
		"steps": []map[string]any{{"template_id": tpl, "delay": hours(1)}, {"template_id": tpl, "delay": hours(30)}}})
	phone := "+12125550131"
	s.call("POST", "/v1/events", map[string]any{"contact": map[string]any{"phone": phone, "name": "Buyer"}, "name": "order.placed", "id": "o-1"}, 202)
	testenv.Eventually(t, "three messages", time.Minute, func() bool { return len(s.sends(phone)) == 3 })

	arrived := map[string]time.Time{} // message id → when metasim took it
	for _, r := range s.sends(phone) {
		arrived[r.Callback] = r.At
	}
	var first, second string
	if err := s.pool.QueryRow(context.Background(), `SELECT min(m.id)::text, max(m.id)::text FROM messages m
		JOIN enrollments e ON e.id = m.enrollment_id WHERE e.sequence_id = $1`, receipt).Scan(&first, &second); err != nil {
		t.Fatal(err)
	}
	// Meta's status timestamps are whole seconds: a sent status that beats the worker's own record
	// dates the send up to a second early, two hours on this clock (a slip of 0.24 s failed CI).
	const want = 30*time.Hour - dripScale*time.Second
	if gap := time.Duration(float64(arrived[second].Sub(arrived[first])) * dripScale); gap < want {
		t.Errorf("the receipt's second step reached Meta %s after its first on the scaled clock, want at least %s", gap, want)
	}
}
