package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// Templates come from the WABA: a sync through the API creates what Meta lists (a template
// with a URL button and one with a location header, to map), updates the one entered by hand to
// Meta's text (keeping its mapping); mapped, the synced templates send through metasim, which
// checks their parameters as Meta does.
func TestTemplatesSyncFromTheWABA(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, promo := s.setup("unlimited")
	s.sim.AddTemplate(metasim.Template{Name: "spring_sale", Language: "en", Category: "marketing", Params: map[string]int{"body": 1, "button.0": 1},
		Components: []whatsapp.TemplateComponent{{Type: "BODY", Text: "Hi {{1}}, spring is here: 15% off."},
			{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "URL", Text: "Shop", URL: "https://shop.example/{{1}}"}}}}})
	s.sim.AddTemplate(metasim.Template{Name: "store_map", Language: "en", Category: "utility", Params: map[string]int{"header": 1},
		Components: []whatsapp.TemplateComponent{{Type: "HEADER", Format: "LOCATION"}, {Type: "BODY", Text: "Find us here."}}})

	res := s.call("POST", fmt.Sprintf("/v1/channels/%d/templates/sync", channel), nil, 200)
	if res["created"] != 2.0 || res["updated"] != 1.0 || len(res["skipped"].([]any)) != 0 || len(res["mappings_to_check"].([]any)) != 2 {
		t.Fatalf("sync: %v", res)
	}
	if tpl := s.call("GET", fmt.Sprintf("/v1/templates/%d", promo), nil, 200); tpl["components"].(map[string]any)["body"].(map[string]any)["text"] != "Message {{1}}" ||
		tpl["parameters"].(map[string]any)["body.1"] == nil || tpl["waba_id"] != wabaID {
		t.Errorf("the hand-entered promo after the sync: %v", tpl)
	}
	check := res["mappings_to_check"].([]any)[0].(map[string]any)
	id := int64(check["id"].(float64))
	if check["note"] != "needs a source for body.1, button.0" {
		t.Errorf("to check: %v", check)
	}
	tpl := s.call("GET", fmt.Sprintf("/v1/templates/%d", id), nil, 200)
	tpl["parameters"] = map[string]any{"body.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"},
		"button.0": map[string]any{"source": "fixed", "value": "spring"}}
	for _, k := range []string{"id", "quality_score", "created_at", "updated_at", "waba_id", "mapping_note"} {
		delete(tpl, k)
	}
	if got := s.call("PUT", fmt.Sprintf("/v1/templates/%d", id), tpl, 200); got["mapping_note"] != nil {
		t.Errorf("mapped, the note stays: %v", got["mapping_note"])
	}
	importContacts(t, s, 5, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Spring", "channel_id": channel, "template_id": id,
		"audience": map[string]any{"tag": "all"}}, 201)
	testenv.Eventually(t, "the synced template sent", 30*time.Second, func() bool { return s.status(int64(b["id"].(float64))) == "completed" })
	if c := s.sim.Counters(); c.PerTemplate["spring_sale"] != 5 || len(c.RefusedByCode) != 0 {
		t.Errorf("metasim: %+v", c)
	}

	// The location header: each contact's nearest store from attributes, its name fixed.
	store := res["mappings_to_check"].([]any)[1].(map[string]any)
	if store["note"] != "needs a source for header.latitude, header.longitude" {
		t.Errorf("to check: %v", store)
	}
	id = int64(store["id"].(float64))
	tpl = s.call("GET", fmt.Sprintf("/v1/templates/%d", id), nil, 200)
	tpl["parameters"] = map[string]any{"header.latitude": map[string]any{"source": "attribute", "key": "store_lat", "fallback": "18.5204"},
		"header.longitude": map[string]any{"source": "attribute", "key": "store_long", "fallback": "73.8567"},
		"header.name":      map[string]any{"source": "fixed", "value": "Our Pune store"}}
	for _, k := range []string{"id", "quality_score", "created_at", "updated_at", "waba_id", "mapping_note"} {
		delete(tpl, k)
	}
	s.call("PUT", fmt.Sprintf("/v1/templates/%d", id), tpl, 200)
	b = s.call("POST", "/v1/broadcasts", map[string]any{"name": "Stores", "channel_id": channel, "template_id": id,
		"audience": map[string]any{"tag": "all"}}, 201)
	testenv.Eventually(t, "the location template sent", 30*time.Second, func() bool { return s.status(int64(b["id"].(float64))) == "completed" })
	if c := s.sim.Counters(); c.PerTemplate["store_map"] != 5 || len(c.RefusedByCode) != 0 {
		t.Errorf("metasim after the location broadcast: %+v", c)
	}
}

// A template of named parameters (Meta's NAMED format) and a Flow button syncs with a slot per
// name; mapped, it sends each parameter with its name and the button with Meta's default flow
// token, which metasim checks as Meta does.
func TestNamedTemplateSyncsAndSends(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	channel, _ := s.setup("unlimited")
	s.sim.AddTemplate(metasim.Template{Name: "order_note", Language: "en", Category: "utility", Params: map[string]int{"body": 2},
		Components: []whatsapp.TemplateComponent{{Type: "BODY", Text: "Hi {{first_name}}, your {{city}} store has your order, {{first_name}}."},
			{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "FLOW", Text: "Book a pickup"}}}}})
	res := s.call("POST", fmt.Sprintf("/v1/channels/%d/templates/sync", channel), nil, 200)
	check := res["mappings_to_check"].([]any)[0].(map[string]any)
	if len(res["skipped"].([]any)) != 0 || check["note"] != "needs a source for body.city, body.first_name" {
		t.Fatalf("sync: %v", res)
	}
	id := int64(check["id"].(float64))
	tpl := s.call("GET", fmt.Sprintf("/v1/templates/%d", id), nil, 200)
	tpl["parameters"] = map[string]any{"body.first_name": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"},
		"body.city": map[string]any{"source": "attribute", "key": "city", "fallback": "nearest"}}
	for _, k := range []string{"id", "quality_score", "created_at", "updated_at", "waba_id", "mapping_note"} {
		delete(tpl, k)
	}
	s.call("PUT", fmt.Sprintf("/v1/templates/%d", id), tpl, 200)
	s.call("POST", "/v1/contacts", map[string]any{"phone": "+12125550501", "name": "Asha Rao", "opted_in": true,
		"tags": []string{"named"}, "attributes": map[string]any{"city": "Pune"}}, 201)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Orders", "channel_id": channel, "template_id": id,
		"audience": map[string]any{"tag": "named"}}, 201)
	testenv.Eventually(t, "the named template sent", 30*time.Second, func() bool { return s.status(int64(b["id"].(float64))) == "completed" })
	recs := s.sim.Records(0, "+12125550501")
	if len(recs) != 1 || !recs[0].Accepted() || fmt.Sprint(recs[0].BodyParams) != "[Asha Pune]" {
		t.Errorf("metasim got %+v (refused: %v)", recs, s.sim.Counters().RefusedByCode)
	}
}
