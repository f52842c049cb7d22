package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/integrations"
)

// cartSequence is a valid sequence on the channel with the template as both steps.
func cartSequence(channel, tpl int64) map[string]any {
	return map[string]any{"name": "Abandoned cart", "channel_id": channel,
		"trigger": map[string]any{"event": "cart.abandoned", "filter": []any{map[string]any{"property": "total", "op": "gte", "value": 10}}},
		"exit":    map[string]any{"on_reply": true, "success": map[string]any{"events": []string{"order.placed"}}},
		"steps": []any{
			map[string]any{"template_id": tpl, "delay": map[string]any{"amount": 1, "unit": "hours"}},
			map[string]any{"template_id": tpl, "delay": map[string]any{"amount": 1, "unit": "days"},
				"condition": map[string]any{"field": "opted_in", "op": "eq", "value": true}},
		}}
}

func TestSequencesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	_, channel := channelFixture(t, e, key, "100000000000001")
	tpl := e.call(key, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated).num("id")

	bad := func(field string, mutate func(m map[string]any)) {
		t.Helper()
		body := cartSequence(channel, tpl)
		mutate(body)
		r := e.call(key, "POST", "/v1/sequences", body).want(t, http.StatusBadRequest)
		if got := r.Body["error"].(map[string]any)["field"]; got != field {
			t.Errorf("error on %v, want %s: %s", got, field, r.Raw)
		}
	}
	bad("name", func(m map[string]any) { m["name"] = " " })
	bad("steps", func(m map[string]any) { m["steps"] = []any{} })
	bad("steps[0].template_id", func(m map[string]any) { m["steps"] = []any{map[string]any{"template_id": 999}} })
	bad("steps[0].delay.unit", func(m map[string]any) {
		m["steps"] = []any{map[string]any{"template_id": tpl, "delay": map[string]any{"amount": 1, "unit": "fortnights"}}}
	})
	bad("trigger.event", func(m map[string]any) { m["trigger"] = map[string]any{"event": "Cart Abandoned"} })
	bad("start_condition", func(m map[string]any) {
		m["start_condition"] = map[string]any{"field": "shoe_size", "op": "eq", "value": 1}
	})
	bad("steps[0].parameters.body.9", func(m map[string]any) {
		m["steps"] = []any{map[string]any{"template_id": tpl, "parameters": map[string]any{"body.9": map[string]any{"source": "fixed", "value": "x"}}}}
	})
	e.call(key, "POST", "/v1/sequences", map[string]any{"name": "x", "channel_id": 999, "steps": []any{}}).want(t, http.StatusNotFound)
	e.call(key, "POST", "/v1/sequences", map[string]any{"name": "x", "surprise": 1}).want(t, http.StatusBadRequest)

	r := e.call(key, "POST", "/v1/sequences", cartSequence(channel, tpl)).want(t, http.StatusCreated)
	id := r.num("id")
	exit := r.Body["exit"].(map[string]any)
	if r.Body["status"] != "draft" || r.num("version") != 1 || r.Body["time_zone"] != "contact" || exit["on_opt_out"] != true {
		t.Fatalf("created: %s", r.Raw)
	}
	path := fmt.Sprintf("/v1/sequences/%d", id)
	e.call(key, "GET", path, nil).want(t, http.StatusOK)
	if list := e.call(key, "GET", "/v1/sequences", nil).want(t, http.StatusOK); len(list.Body["data"].([]any)) != 1 {
		t.Errorf("list: %s", list.Raw)
	}
	edited := cartSequence(channel, tpl)
	edited["name"] = "Cart, edited"
	if r := e.call(key, "PUT", path, edited).want(t, http.StatusOK); r.num("version") != 1 || r.Body["name"] != "Cart, edited" {
		t.Errorf("a draft is edited in place: %s", r.Raw)
	}
	contact := e.call(key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "opted_in": true}).want(t, http.StatusCreated).num("id")
	e.call(key, "POST", path+"/enrollments", map[string]any{"phone": "+14155550100"}).want(t, http.StatusConflict) // draft
	// Activation checks the draft again: its template paused since, it does not go live.
	setStatus := func(status string) {
		if _, err := e.pool.Exec(context.Background(), `UPDATE templates SET status = $1 WHERE id = $2`, status, tpl); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("paused")
	e.call(key, "POST", path+"/activate", nil).want(t, http.StatusBadRequest)
	setStatus("approved")
	e.call(key, "POST", path+"/activate", nil).want(t, http.StatusOK)
	e.call(key, "POST", path+"/activate", nil).want(t, http.StatusConflict)
	if r := e.call(key, "PUT", path, edited).want(t, http.StatusOK); r.num("version") != 2 {
		t.Errorf("an active sequence gets a new version: %s", r.Raw)
	}

	e.call(key, "POST", path+"/enrollments", map[string]any{"phone": "+14155550999"}).want(t, http.StatusNotFound)
	e.call(key, "POST", path+"/enrollments", map[string]any{}).want(t, http.StatusBadRequest)
	enr := e.call(key, "POST", path+"/enrollments", map[string]any{"contact_id": contact, "properties": map[string]any{"total": 42}}).want(t, http.StatusCreated)
	if enr.num("version") != 2 || enr.Body["status"] != "active" || enr.Body["next_run_at"] == nil {
		t.Errorf("enrollment: %s", enr.Raw)
	}
	again := e.call(key, "POST", path+"/enrollments", map[string]any{"contact_id": contact}).want(t, http.StatusConflict)
	if again.Body["error"].(map[string]any)["details"].(map[string]any)["reason"] != "already_enrolled" {
		t.Errorf("second enrollment: %s", again.Raw)
	}
	e.call(key, "GET", path+"/enrollments?status=sleeping", nil).want(t, http.StatusBadRequest)
	if list := e.call(key, "GET", path+"/enrollments?status=active", nil).want(t, http.StatusOK); len(list.Body["data"].([]any)) != 1 {
		t.Errorf("enrollments: %s", list.Raw)
	}
	journey := e.call(key, "GET", fmt.Sprintf("/v1/enrollments/%d", enr.num("id")), nil).want(t, http.StatusOK)
	steps := journey.Body["steps"].([]any)
	if len(steps) != 2 || steps[0].(map[string]any)["state"] != "next" || steps[1].(map[string]any)["state"] != "upcoming" {
		t.Errorf("journey: %s", journey.Raw)
	}

	e.call(key, "POST", path+"/pause", nil).want(t, http.StatusOK)
	var status string
	if err := e.pool.QueryRow(context.Background(), "SELECT status FROM enrollments WHERE id = $1", enr.num("id")).Scan(&status); err != nil || status != "paused" {
		t.Errorf("enrollment of a paused sequence: %s %v", status, err)
	}
	e.call(key, "POST", path+"/pause", nil).want(t, http.StatusConflict)
	e.call(key, "POST", path+"/resume", nil).want(t, http.StatusOK)
	e.call(key, "POST", fmt.Sprintf("/v1/enrollments/%d/exit", enr.num("id")), nil).want(t, http.StatusOK)
	e.call(key, "POST", fmt.Sprintf("/v1/enrollments/%d/exit", enr.num("id")), nil).want(t, http.StatusConflict)
	rep := e.call(key, "GET", path+"/report", nil).want(t, http.StatusOK).Body["report"].(map[string]any)
	if rep["enrolled"].(float64) != 1 || rep["exited"].(map[string]any)["manual"].(float64) != 1 {
		t.Errorf("report: %v", rep)
	}
	e.call(key, "DELETE", fmt.Sprintf("/v1/templates/%d", tpl), nil).want(t, http.StatusConflict)
	other := welcomeTemplate()
	other["name"] = "other_offer"
	tpl2 := e.call(key, "POST", "/v1/templates", other).want(t, http.StatusCreated).num("id")
	e.call(key, "POST", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": channel, "template_id": tpl2,
		"audience": map[string]any{"tag": "x"}, "draft": true}).want(t, http.StatusCreated)
	e.call(key, "DELETE", fmt.Sprintf("/v1/templates/%d", tpl2), nil).want(t, http.StatusConflict) // a broadcast uses it
	e.call(key, "POST", path+"/archive", nil).want(t, http.StatusOK)
	e.call(key, "PUT", path, edited).want(t, http.StatusConflict)
	e.call(key, "GET", "/v1/enrollments/999999", nil).want(t, http.StatusNotFound)
	e.call(key, "GET", "/v1/sequences/999999", nil).want(t, http.StatusNotFound)
}

// Contact changes become events only while an active sequence starts on them.
func TestContactEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	_, channel := channelFixture(t, e, key, "100000000000001")
	tpl := e.call(key, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated).num("id")
	count := func(name string) int {
		var n int
		if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM events WHERE name = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c := e.call(key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100"}).want(t, http.StatusCreated).num("id")
	if count("contact.created") != 0 {
		t.Fatal("a contact event was stored with no sequence listening")
	}
	seq := e.call(key, "POST", "/v1/sequences", map[string]any{"name": "VIP", "channel_id": channel,
		"trigger": map[string]any{"event": "tag.added", "filter": []any{map[string]any{"property": "tag", "op": "eq", "value": "vip"}}},
		"steps":   []any{map[string]any{"template_id": tpl}}}).want(t, http.StatusCreated).num("id")
	e.call(key, "POST", fmt.Sprintf("/v1/sequences/%d/activate", seq), nil).want(t, http.StatusOK)
	e.call(key, "PATCH", fmt.Sprintf("/v1/contacts/%d", c), map[string]any{"tags": []string{"vip", "new"}}).want(t, http.StatusOK)
	e.call(key, "PATCH", fmt.Sprintf("/v1/contacts/%d", c), map[string]any{"tags": []string{"vip", "new"}}).want(t, http.StatusOK)
	var tags []string
	rows, err := e.pool.Query(context.Background(), "SELECT properties ->> 'tag' FROM events WHERE name = 'tag.added' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tag string
		_ = rows.Scan(&tag)
		tags = append(tags, tag)
	}
	if slices.Sort(tags); strings.Join(tags, ",") != "new,vip" {
		t.Errorf("tag.added events: %v, want one per newly added tag", tags)
	}
}

func TestEventsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	ev := func(body map[string]any) response { return e.call(key, "POST", "/v1/events", body) }
	ev(map[string]any{"contact": map[string]any{"phone": "+14155550100"}, "name": "Order Placed"}).want(t, http.StatusBadRequest)
	if r := ev(map[string]any{"contact": map[string]any{"phone": "12"}, "name": "order.placed"}).want(t, http.StatusBadRequest); r.Body["error"].(map[string]any)["field"] != "contact.phone" {
		t.Errorf("bad phone: %s", r.Raw)
	}
	big := map[string]any{"blob": strings.Repeat("x", 70<<10)}
	ev(map[string]any{"contact": map[string]any{"phone": "+14155550100"}, "name": "order.placed", "properties": big}).want(t, http.StatusBadRequest)
	body := map[string]any{"contact": map[string]any{"phone": "+14155550100", "name": "Asha"}, "name": "order.placed", "id": "ord-1",
		"properties": map[string]any{"order_id": "ord-1", "amount": 49.9}}
	first := ev(body).want(t, http.StatusAccepted)
	second := ev(body).want(t, http.StatusAccepted)
	if first.Body["duplicate"] != false || second.Body["duplicate"] != true || first.num("event_id") != second.num("event_id") {
		t.Errorf("the same id twice: %s %s", first.Raw, second.Raw)
	}
	c := e.call(key, "GET", fmt.Sprintf("/v1/contacts/%d", first.num("contact_id")), nil).want(t, http.StatusOK)
	if c.Body["name"] != "Asha" {
		t.Errorf("the contact made on the fly: %s", c.Raw)
	}
}

// hook posts a delivery to an integration URL with the given headers.
func (e *env) hook(url string, headers map[string]string, body []byte) response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

func TestIntegrationsAndHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	e.call(key, "POST", "/v1/integrations", map[string]any{"name": "x", "kind": "zapier"}).want(t, http.StatusBadRequest)
	e.call(key, "POST", "/v1/integrations", map[string]any{"name": "x", "kind": "generic"}).want(t, http.StatusBadRequest)
	e.call(key, "POST", "/v1/integrations", map[string]any{"name": "x", "kind": "generic", "mapping": map[string]any{"phone": "p"}}).want(t, http.StatusBadRequest)
	e.call(key, "POST", "/v1/integrations", map[string]any{"name": "Shop", "kind": "shopify"}).want(t, http.StatusBadRequest)
	shop := e.call(key, "POST", "/v1/integrations", map[string]any{"name": "Shop", "kind": "shopify", "secret": "shpss_0123456789abcdef"}).want(t, http.StatusCreated)
	if shop.Body["secret"] != nil {
		t.Errorf("a secret the caller gave is not echoed: %s", shop.Raw)
	}
	gen := e.call(key, "POST", "/v1/integrations", map[string]any{"name": "CRM", "kind": "generic", "default_country": "us",
		"mapping": map[string]any{"phone": "customer.phone", "name": "customer.name", "event": "type",
			"attributes": map[string]any{"city": "customer.city"}, "properties": "data"}}).want(t, http.StatusCreated)
	secret, _ := gen.Body["secret"].(string)
	url, _ := gen.Body["url"].(string)
	if !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(url, "/hooks/") || gen.Body["default_country"] != "US" {
		t.Fatalf("generic integration: %s", gen.Raw)
	}
	id := gen.num("id")
	if r := e.call(key, "GET", fmt.Sprintf("/v1/integrations/%d", id), nil).want(t, http.StatusOK); strings.Contains(string(r.Raw), secret) {
		t.Errorf("the secret is shown again: %s", r.Raw)
	}
	e.call(key, "GET", "/v1/integrations", nil).want(t, http.StatusOK)
	e.call(key, "PATCH", fmt.Sprintf("/v1/integrations/%d", id), map[string]any{"kind": "shopify"}).want(t, http.StatusBadRequest)
	e.call(key, "PATCH", fmt.Sprintf("/v1/integrations/%d", shop.num("id")), map[string]any{"mapping": map[string]any{"phone": "p", "event_name": "a.b"}}).want(t, http.StatusBadRequest)
	e.call(key, "PATCH", fmt.Sprintf("/v1/integrations/%d", id), map[string]any{"name": "CRM hooks"}).want(t, http.StatusOK)

	now := time.Now()
	body := []byte(`{"type":"lead.created","customer":{"phone":"(415) 555-0123","name":"Lee","city":"SF"},"data":{"source":"ads"}}`)
	signed := func(b []byte, at time.Time, delivery string) map[string]string {
		return map[string]string{integrations.HeaderSignature: integrations.SignGeneric(b, secret, at, delivery),
			integrations.HeaderTimestamp: strconv.FormatInt(at.Unix(), 10), integrations.HeaderDelivery: delivery}
	}
	e.hook("/hooks/nope", signed(body, now, "d1"), body).want(t, http.StatusNotFound)
	e.hook(url, map[string]string{}, body).want(t, http.StatusUnauthorized)
	e.hook(url, signed(body, now, "d1"), append([]byte(" "), body...)).want(t, http.StatusUnauthorized) // the body changed
	e.hook(url, signed(body, now.Add(-10*time.Minute), "d1"), body).want(t, http.StatusUnauthorized)    // stale
	e.hook(url, signed([]byte("[1]"), now, "d0"), []byte("[1]")).want(t, http.StatusBadRequest)
	e.hook(url, signed(body, now, "d1"), body).want(t, http.StatusAccepted)
	if r := e.hook(url, signed(body, now, "d1"), body).want(t, http.StatusAccepted); !strings.Contains(string(r.Raw), `"duplicate":true`) {
		t.Errorf("redelivery: %s", r.Raw)
	}
	// A captured delivery replayed under a new delivery id does not verify: the id is signed.
	replay := signed(body, now, "d1")
	replay[integrations.HeaderDelivery] = "d1-again"
	e.hook(url, replay, body).want(t, http.StatusUnauthorized)
	nophone := []byte(`{"type":"lead.created","customer":{},"data":{}}`)
	e.hook(url, signed(nophone, now, "d2"), nophone).want(t, http.StatusAccepted)

	if _, err := integrations.Process(context.Background(), e.pool); err != nil {
		t.Fatal(err)
	}
	list := e.call(key, "GET", fmt.Sprintf("/v1/integrations/%d/deliveries", id), nil).want(t, http.StatusOK).Body["data"].([]any)
	if len(list) != 2 {
		t.Fatalf("deliveries: %v", list)
	}
	ok, failed := list[0].(map[string]any), list[1].(map[string]any)
	if ok["event_id"] == nil || ok["error"] != "" || failed["event_id"] != nil || !strings.Contains(failed["error"].(string), "no phone") {
		t.Errorf("processed deliveries: %v %v", ok, failed)
	}
	var name, src, phone, city string
	if err := e.pool.QueryRow(context.Background(), `SELECT ev.name, ev.properties ->> 'source', c.phone, c.attributes ->> 'city'
		FROM events ev JOIN contacts c ON c.id = ev.contact_id`).Scan(&name, &src, &phone, &city); err != nil {
		t.Fatal(err)
	}
	if name != "lead.created" || src != "ads" || phone != "+14155550123" || city != "SF" {
		t.Errorf("event from the delivery: %s %s %s %s", name, src, phone, city)
	}
	e.call(key, "DELETE", fmt.Sprintf("/v1/integrations/%d", id), nil).want(t, http.StatusNoContent)
	e.hook(url, signed(body, now, "d3"), body).want(t, http.StatusNotFound)
}

// A Shopify delivery replayed (same body, new webhook id or topic), a stale one, and the same
// order sent again in another body: each refused or a duplicate, one event in the end.
func TestShopifyReplays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	secret := "shpss_0123456789abcdef"
	url := e.call(key, "POST", "/v1/integrations", map[string]any{"name": "Shop", "kind": "shopify", "secret": secret}).
		want(t, http.StatusCreated).Body["url"].(string)
	shopify := func(topic, webhookID string, at time.Time, body []byte) response {
		return e.hook(url, map[string]string{integrations.ShopifyHMAC: integrations.SignShopify(body, secret),
			integrations.ShopifyTopic: topic, integrations.ShopifyWebhookID: webhookID,
			integrations.ShopifyTriggeredAt: at.UTC().Format(time.RFC3339Nano)}, body)
	}
	order := []byte(`{"id": 5, "name": "#1005", "customer": {"phone": "+14155550123", "first_name": "Lee"}}`)
	if r := shopify("orders/create", "w1", time.Now(), order).want(t, http.StatusAccepted); strings.Contains(string(r.Raw), `"duplicate":true`) {
		t.Fatalf("first delivery: %s", r.Raw)
	}
	for _, topic := range []string{"orders/create", "orders/cancelled"} {
		if r := shopify(topic, "w-replayed", time.Now(), order).want(t, http.StatusAccepted); !strings.Contains(string(r.Raw), `"duplicate":true`) {
			t.Errorf("replayed as %s under a new webhook id: %s", topic, r.Raw)
		}
	}
	shopify("orders/create", "w3", time.Now().Add(-2*time.Hour), []byte(`{"id": 6, "customer": {"phone": "+14155550124"}}`)).
		want(t, http.StatusUnauthorized)
	// Shopify sends the same order again in another body (a field changed): one order.placed.
	shopify("orders/create", "w4", time.Now(), []byte(`{"id": 5, "name": "#1005", "note": "gift", "customer": {"phone": "+14155550123"}}`)).
		want(t, http.StatusAccepted)
	if _, err := integrations.Process(context.Background(), e.pool); err != nil {
		t.Fatal(err)
	}
	var events int
	_ = e.pool.QueryRow(context.Background(), "SELECT count(*) FROM events WHERE name = 'order.placed'").Scan(&events)
	if events != 1 {
		t.Fatalf("%d order.placed events, want 1", events)
	}
}

// An integration key's event creates contacts and fills what they lack, but cannot rename them,
// change their email or consent; each contact change it makes is audited as one. Consent sources
// are a fixed set, and each consent change records the key that set it.
func TestEventsCannotRewriteContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	account, owner := e.account("acme")
	integration := e.key(account, "integration")
	c := e.call(owner, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "name": "Asha", "opted_in": true,
		"opt_in_source": "website_form", "attributes": map[string]any{"plan": "gold"}}).want(t, http.StatusCreated).num("id")
	e.call(integration, "POST", "/v1/events", map[string]any{"name": "order.placed", "contact": map[string]any{"phone": "+14155550100",
		"name": "Renamed", "email": "new@example.com", "opted_in": false, "attributes": map[string]any{"plan": "free", "city": "Pune"},
		"tags": []string{"buyer"}}}).want(t, http.StatusAccepted)
	got := e.call(owner, "GET", fmt.Sprintf("/v1/contacts/%d", c), nil).want(t, http.StatusOK)
	attrs, _ := got.Body["attributes"].(map[string]any)
	if got.Body["name"] != "Asha" || got.Body["opted_in"] != true || attrs["plan"] != "gold" || attrs["city"] != "Pune" ||
		got.Body["email"] != "new@example.com" || fmt.Sprint(got.Body["tags"]) != "[buyer]" {
		t.Errorf("after an integration key's event: %s", got.Raw)
	}
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'contact.update' AND target_id = $1
		AND after ->> 'by_event' = 'order.placed' AND (after ->> 'fill_only')::boolean`, c).Scan(&audited)
	if audited != 1 {
		t.Errorf("%d audit entries for the event's contact change", audited)
	}
	// A new contact is made whole, consent included.
	fresh := e.call(integration, "POST", "/v1/events", map[string]any{"name": "order.placed", "contact": map[string]any{
		"phone": "+14155550101", "name": "Lee", "opted_in": true, "opt_in_source": "checkout"}}).want(t, http.StatusAccepted).num("contact_id")
	if r := e.call(owner, "GET", fmt.Sprintf("/v1/contacts/%d", fresh), nil); r.Body["name"] != "Lee" || r.Body["opted_in"] != true {
		t.Errorf("a contact the event made: %s", r.Raw)
	}
	// An editor's event writes the contact whole.
	e.call(owner, "POST", "/v1/events", map[string]any{"name": "order.placed", "contact": map[string]any{"phone": "+14155550100",
		"name": "Asha R", "opted_in": false, "opt_in_source": "customer_request"}}).want(t, http.StatusAccepted)
	if r := e.call(owner, "GET", fmt.Sprintf("/v1/contacts/%d", c), nil); r.Body["name"] != "Asha R" || r.Body["opted_in"] != false {
		t.Errorf("after an owner's event: %s", r.Raw)
	}

	// Consent: a fixed set of sources, each change with the key that made it.
	e.call(owner, "POST", fmt.Sprintf("/v1/contacts/%d/opt-in", c), map[string]any{"source": "I promise they said yes"}).want(t, http.StatusBadRequest)
	e.call(owner, "POST", fmt.Sprintf("/v1/contacts/%d/opt-in", c), map[string]any{"source": "double_opt_in"}).want(t, http.StatusOK)
	consent := e.call(owner, "GET", fmt.Sprintf("/v1/contacts/%d/consent", c), nil).want(t, http.StatusOK).Body["data"].([]any)
	latest := consent[0].(map[string]any)
	if latest["source"] != "double_opt_in" || latest["set_by"] != fmt.Sprintf("key:%d", keyOf(t, e, owner)) {
		t.Errorf("consent history: %v", consent)
	}
	e.send(owner, "POST", "/v1/contacts/import?opt_in_source=whatsapp_reply", "text/csv", strings.NewReader("phone\n+14155550102\n")).
		want(t, http.StatusBadRequest)
}

// An integration's deliveries only fill contacts, unless it is configured to overwrite them.
func TestIntegrationOverwriteContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	e.call(key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550123", "name": "Lee", "opted_in": true}).want(t, http.StatusCreated)
	gen := e.call(key, "POST", "/v1/integrations", map[string]any{"name": "CRM", "kind": "generic",
		"mapping": map[string]any{"phone": "phone", "name": "name", "event_name": "lead.updated"}}).want(t, http.StatusCreated)
	secret, url := gen.Body["secret"].(string), gen.Body["url"].(string)
	deliver := func(id, name string) {
		body := []byte(fmt.Sprintf(`{"phone":"+14155550123","name":%q}`, name))
		now := time.Now()
		e.hook(url, map[string]string{integrations.HeaderSignature: integrations.SignGeneric(body, secret, now, id),
			integrations.HeaderTimestamp: strconv.FormatInt(now.Unix(), 10), integrations.HeaderDelivery: id}, body).want(t, http.StatusAccepted)
		if _, err := integrations.Process(context.Background(), e.pool); err != nil {
			t.Fatal(err)
		}
	}
	name := func() string {
		var n string
		_ = e.pool.QueryRow(context.Background(), "SELECT name FROM contacts").Scan(&n)
		return n
	}
	deliver("d1", "Mallory")
	if n := name(); n != "Lee" {
		t.Fatalf("a delivery renamed the contact to %q", n)
	}
	e.call(key, "PATCH", fmt.Sprintf("/v1/integrations/%d", gen.num("id")), map[string]any{"overwrite_contacts": true}).want(t, http.StatusOK)
	deliver("d2", "Lee Chen")
	if n := name(); n != "Lee Chen" {
		t.Fatalf("with overwrite_contacts the name is %q", n)
	}
	var actor string
	_ = e.pool.QueryRow(context.Background(), "SELECT actor_name FROM audit_log WHERE action = 'contact.update' ORDER BY id DESC LIMIT 1").Scan(&actor)
	if !strings.HasPrefix(actor, "integration:") {
		t.Errorf("the contact change is audited as %q", actor)
	}
}
