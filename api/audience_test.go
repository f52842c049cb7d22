package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestSegmentsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	for i, tag := range []string{"vip", "vip", "new"} {
		e.call(key, "POST", "/v1/contacts", map[string]any{"phone": fmt.Sprintf("+1415555%04d", i), "tags": []string{tag}, "opted_in": i != 1}).want(t, 201)
	}
	rules := map[string]any{"all": []any{
		map[string]any{"field": "tags", "op": "contains", "value": "vip"},
		map[string]any{"field": "opted_in", "op": "eq", "value": true},
	}}
	r := e.call(key, "POST", "/v1/segments", map[string]any{"name": "VIP opted in", "rules": rules}).want(t, http.StatusCreated)
	path := fmt.Sprintf("/v1/segments/%d", r.num("id"))
	if r := e.call(key, "POST", "/v1/segments", map[string]any{"name": "VIP opted in", "rules": rules}); r.Status != 409 || r.errCode() != CodeConflict {
		t.Fatalf("duplicate name: %d %s", r.Status, r.Raw)
	}
	r = e.call(key, "GET", path+"/preview", nil).want(t, http.StatusOK)
	if r.num("count") != 1 || len(r.Body["sample"].([]any)) != 1 {
		t.Fatalf("preview: %s", r.Raw)
	}
	r = e.call(key, "GET", "/v1/contacts?segment_id="+strings.TrimPrefix(path, "/v1/segments/"), nil).want(t, http.StatusOK)
	if len(r.Body["data"].([]any)) != 1 {
		t.Fatalf("contacts in segment: %s", r.Raw)
	}
	e.call(key, "PUT", path, map[string]any{"name": "VIP", "rules": map[string]any{"field": "tags", "op": "contains", "value": "vip"}}).want(t, http.StatusOK)
	if r := e.call(key, "GET", path+"/preview", nil); r.num("count") != 2 {
		t.Fatalf("preview after edit: %s", r.Raw)
	}
	r = e.call(key, "POST", "/v1/segments/preview", map[string]any{"rules": map[string]any{"not": map[string]any{"field": "tags", "op": "contains", "value": "vip"}}}).want(t, http.StatusOK)
	if r.num("count") != 1 {
		t.Fatalf("unsaved preview: %s", r.Raw)
	}
	if r := e.call(key, "GET", "/v1/segments", nil); len(r.Body["data"].([]any)) != 1 {
		t.Fatalf("list: %s", r.Raw)
	}
	for _, bad := range []map[string]any{
		{"name": "x", "rules": map[string]any{"field": "name'; DROP TABLE contacts; --", "op": "eq", "value": "x"}},
		{"name": "x", "rules": map[string]any{"all": []any{map[string]any{"field": "tags", "op": "gt", "value": 1}}}},
		{"name": "", "rules": rules},
		{"name": "x"},
		{"name": "x", "rules": map[string]any{"field": "name", "op": "exists", "sql": "1=1"}},
	} {
		if r := e.call(key, "POST", "/v1/segments", bad); r.Status != 400 || r.errCode() != CodeValidation {
			t.Errorf("%v: %d %s", bad, r.Status, r.Raw)
		}
	}
	e.call(key, "DELETE", path, nil).want(t, http.StatusNoContent)
	e.call(key, "GET", path, nil).want(t, http.StatusNotFound)
}

func welcomeTemplate() map[string]any {
	return map[string]any{
		"name": "welcome_offer", "language": "en_US", "category": "marketing",
		"components": map[string]any{
			"header":  map[string]any{"format": "text", "text": "Hello {{1}}"},
			"body":    map[string]any{"text": "Use code {{1}} for {{2}} off in {{3}}."},
			"footer":  map[string]any{"text": "Reply STOP to opt out"},
			"buttons": []any{map[string]any{"type": "quick_reply", "text": "Stop"}, map[string]any{"type": "url", "text": "Shop", "url": "https://shop.example/{{1}}"}},
		},
		"parameters": map[string]any{
			"header.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "friend"},
			"body.1":   map[string]any{"source": "fixed", "value": "WELCOME10"},
			"body.2":   map[string]any{"source": "event", "key": "discount", "fallback": "10%"},
			"body.3":   map[string]any{"source": "attribute", "key": "city"},
			"button.1": map[string]any{"source": "attribute", "key": "store"},
		},
	}
}

func TestTemplatesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	r := e.call(key, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated)
	path := fmt.Sprintf("/v1/templates/%d", r.num("id"))
	if r.Body["status"] != "approved" {
		t.Fatalf("default status: %s", r.Raw)
	}
	e.call(key, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusConflict)

	c := e.call(key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "name": "Bob Lee", "attributes": map[string]any{"city": "SF", "store": "sf-1"}}).want(t, 201)
	r = e.call(key, "POST", path+"/preview", map[string]any{"contact_id": c.num("id"), "event": map[string]any{"discount": "25%"}}).want(t, http.StatusOK)
	preview := r.Body["preview"].(map[string]any)
	if preview["header"] != "Hello Bob" || preview["body"] != "Use code WELCOME10 for 25% off in SF." {
		t.Fatalf("preview: %s", r.Raw)
	}
	if !strings.Contains(string(r.Raw), `"sub_type":"url","index":"1","parameters":[{"type":"text","text":"sf-1"}]`) {
		t.Fatalf("url button suffix: %s", r.Raw)
	}
	// A contact without the attributes the template needs: 422, with the parameter named.
	c2 := e.call(key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550101"}).want(t, 201)
	r = e.call(key, "POST", path+"/preview", map[string]any{"contact_id": c2.num("id")})
	if r.Status != 422 || !strings.Contains(string(r.Raw), "body.3") {
		t.Fatalf("missing attribute: %d %s", r.Status, r.Raw)
	}
	e.call(key, "POST", path+"/preview", map[string]any{"contact_id": 999999}).want(t, http.StatusNotFound)

	bad := welcomeTemplate()
	delete(bad["parameters"].(map[string]any), "body.3")
	if r := e.call(key, "PUT", path, bad); r.Status != 400 || !strings.Contains(string(r.Raw), `"field":"parameters.body.3"`) {
		t.Fatalf("unmapped placeholder: %d %s", r.Status, r.Raw)
	}
	paused := welcomeTemplate()
	paused["status"] = "paused"
	if r := e.call(key, "PUT", path, paused).want(t, http.StatusOK); r.Body["status"] != "paused" {
		t.Fatalf("update: %s", r.Raw)
	}
	if r := e.call(key, "GET", "/v1/templates", nil); len(r.Body["data"].([]any)) != 1 {
		t.Fatalf("list: %s", r.Raw)
	}
	e.call(key, "DELETE", path, nil).want(t, http.StatusNoContent)
	e.call(key, "GET", path, nil).want(t, http.StatusNotFound)
}
