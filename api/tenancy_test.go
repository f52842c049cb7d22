package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// keyOf is the id of an account's first key.
func keyOf(t *testing.T, e *env, token string) int64 {
	t.Helper()
	keys := e.call(token, "GET", "/v1/api-keys", nil).want(t, 200).Body["data"].([]any)
	return int64(keys[0].(map[string]any)["id"].(float64))
}

// Walks every route with account B's key against account A's resources: each route that names an
// id answers 404, and no list shows A's data.
func TestEveryRouteIsolatesAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, keyA := e.account("a")
	_, keyB := e.account("b")
	contact := e.call(keyA, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "name": "Secret A", "tags": []string{"a-only"}, "opted_in": true}).want(t, 201).num("id")
	seg := e.call(keyA, "POST", "/v1/segments", map[string]any{"name": "A segment", "rules": map[string]any{"field": "opted_in", "op": "eq", "value": true}}).want(t, 201).num("id")
	tpl := e.call(keyA, "POST", "/v1/templates", welcomeTemplate()).want(t, 201).num("id")
	portfolio, channel := channelFixture(t, e, keyA, "100000000000001")
	bc := e.call(keyA, "POST", "/v1/broadcasts", map[string]any{"name": "A broadcast", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"tag": "a-only"}, "draft": true}).want(t, 201).num("id")
	seqBody := cartSequence(channel, tpl)
	seqBody["name"] = "A sequence"
	seq := e.call(keyA, "POST", "/v1/sequences", seqBody).want(t, 201).num("id")
	e.call(keyA, "POST", fmt.Sprintf("/v1/sequences/%d/activate", seq), nil).want(t, 200)
	enr := e.call(keyA, "POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"contact_id": contact}).want(t, 201).num("id")
	hook := e.call(keyA, "POST", "/v1/integrations", map[string]any{"name": "A hook", "kind": "generic",
		"mapping": map[string]any{"phone": "phone", "event_name": "a.b"}}).want(t, 201).num("id")
	export := e.call(keyA, "POST", "/v1/exports", map[string]any{"kind": "recipients", "broadcast_id": bc}).want(t, 201).num("id")
	ids := map[string]int64{"/v1/exports/": export, "/v1/contacts/": contact, "/v1/segments/": seg, "/v1/templates/": tpl,
		"/v1/portfolios/": portfolio, "/v1/channels/": channel, "/v1/broadcasts/": bc,
		"/v1/sequences/": seq, "/v1/enrollments/": enr, "/v1/integrations/": hook, "/v1/api-keys/": keyOf(t, e, keyA)}

	bodies := map[string]any{
		"PATCH /v1/contacts/{id}":             map[string]any{"name": "stolen"},
		"PUT /v1/segments/{id}":               map[string]any{"name": "stolen", "rules": map[string]any{"field": "name", "op": "exists"}},
		"PUT /v1/templates/{id}":              welcomeTemplate(),
		"POST /v1/templates/{id}/preview":     map[string]any{"contact_id": contact},
		"POST /v1/contacts/{id}/opt-in":       map[string]any{"source": "api"},
		"POST /v1/contacts/{id}/opt-out":      map[string]any{"source": "api"},
		"PUT /v1/portfolios/{id}":             map[string]any{"name": "stolen"},
		"PATCH /v1/channels/{id}":             map[string]any{"name": "stolen"},
		"PUT /v1/broadcasts/{id}":             map[string]any{"name": "stolen", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "x"}},
		"PUT /v1/sequences/{id}":              seqBody,
		"POST /v1/sequences/{id}/enrollments": map[string]any{"contact_id": contact},
		"PATCH /v1/integrations/{id}":         map[string]any{"name": "stolen"},
		"POST /v1/channels/{id}/media":        newUpload(t, "file", "a.png", "image/png", pngFile),
		"POST /v1/broadcasts/{id}/retarget":   map[string]any{"slice": "read_not_replied"},
	}
	walked := 0
	for _, rt := range e.api.routes() {
		if rt.access != byKey {
			continue
		}
		pattern := rt.method + " " + rt.path
		path := rt.path
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix+"{id}") {
				path = strings.Replace(path, "{id}", fmt.Sprint(id), 1)
			}
		}
		switch {
		case strings.Contains(rt.path, "{id}"):
			var r response
			if u, ok := bodies[pattern].(upload); ok {
				r = e.upload(keyB, path, u)
			} else {
				r = e.call(keyB, rt.method, path, bodies[pattern])
			}
			if r.Status != http.StatusNotFound {
				t.Errorf("%s with another account's id: %d %s", pattern, r.Status, r.Raw)
			}
		case rt.method == "GET":
			r := e.call(keyB, "GET", path, nil)
			leaked := slices.ContainsFunc([]string{"Secret A", "A segment", "welcome_offer", "A broadcast", "A sequence", "A hook", "100000000000001",
				`"kind":"recipients"`},
				func(s string) bool { return strings.Contains(string(r.Raw), s) })
			if r.Status != http.StatusOK || leaked {
				t.Errorf("%s shows another account's data: %d %s", pattern, r.Status, r.Raw)
			}
		}
		walked++
	}
	if walked < 20 {
		t.Fatalf("walked %d routes", walked)
	}
	// A's data is untouched, and a preview of B's rules counts only B's contacts.
	r := e.call(keyA, "GET", fmt.Sprintf("/v1/contacts/%d", contact), nil).want(t, 200)
	if r.Body["name"] != "Secret A" || r.Body["opted_in"] != true {
		t.Fatalf("A's contact changed: %s", r.Raw)
	}
	r = e.call(keyB, "POST", "/v1/segments/preview", map[string]any{"rules": map[string]any{"field": "tags", "op": "contains", "value": "a-only"}}).want(t, 200)
	if r.num("count") != 0 {
		t.Fatalf("B's preview counts A's contacts: %s", r.Raw)
	}
	r = e.call(keyB, "GET", fmt.Sprintf("/v1/contacts?segment_id=%d", seg), nil)
	if r.Status != 404 {
		t.Fatalf("B lists contacts through A's segment: %d %s", r.Status, r.Raw)
	}
}
