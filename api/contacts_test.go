package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestContactLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")

	r := e.call(key, "POST", "/v1/contacts", map[string]any{
		"phone": "098765 43210", "default_country": "IN", "name": " Asha Rao ", "email": "Asha@Example.com",
		"tags": []string{"vip", "vip", " pune "}, "attributes": map[string]any{"city": "Pune", "score": 7},
		"opted_in": true, "opt_in_source": "website_form",
	}).want(t, http.StatusCreated)
	id := r.num("id")
	if r.Body["phone"] != "+919876543210" || r.Body["name"] != "Asha Rao" || r.Body["email"] != "asha@example.com" ||
		r.Body["country"] != "IN" || r.Body["time_zone"] != "Asia/Calcutta" || r.Body["opted_in"] != true ||
		r.Body["opt_in_source"] != "website_form" || fmt.Sprint(r.Body["tags"]) != "[pune vip]" {
		t.Fatalf("created contact: %s", r.Raw)
	}

	// The same phone, written another way: an upsert that adds tags and merges attributes.
	r = e.call(key, "POST", "/v1/contacts", map[string]any{
		"phone": "+91 98765-43210", "tags": []string{"new"}, "attributes": map[string]any{"plan": "gold"}, "time_zone": "Asia/Kolkata",
	}).want(t, http.StatusOK)
	if r.num("id") != id || fmt.Sprint(r.Body["tags"]) != "[new pune vip]" || r.Body["name"] != "Asha Rao" ||
		fmt.Sprint(r.Body["attributes"]) != "map[city:Pune plan:gold score:7]" || r.Body["time_zone"] != "Asia/Kolkata" {
		t.Fatalf("upserted contact: %s", r.Raw)
	}

	path := fmt.Sprintf("/v1/contacts/%d", id)
	r = e.call(key, "PATCH", path, map[string]any{"tags": []string{"b", "a"}, "attributes": map[string]any{"score": nil, "tier": 2}, "name": "Asha R."}).want(t, http.StatusOK)
	if fmt.Sprint(r.Body["tags"]) != "[a b]" || fmt.Sprint(r.Body["attributes"]) != "map[city:Pune plan:gold tier:2]" || r.Body["name"] != "Asha R." {
		t.Fatalf("patched contact: %s", r.Raw)
	}

	r = e.call(key, "POST", path+"/opt-out", map[string]string{"source": "phone_call"}).want(t, http.StatusOK)
	if r.Body["opted_in"] != false || r.Body["opt_in_source"] != "phone_call" {
		t.Fatalf("opted out: %s", r.Raw)
	}
	e.call(key, "POST", path+"/opt-out", nil).want(t, http.StatusOK) // no change, nothing recorded
	e.call(key, "POST", path+"/opt-in", nil).want(t, http.StatusOK)
	r = e.call(key, "GET", path+"/consent", nil).want(t, http.StatusOK)
	history := r.Body["data"].([]any)
	if len(history) != 3 {
		t.Fatalf("consent history has %d entries, want 3 (opt-in, opt-out, opt-in): %s", len(history), r.Raw)
	}
	if h := history[0].(map[string]any); h["opted_in"] != true || h["source"] != "api" {
		t.Fatalf("latest consent entry: %v", h)
	}

	e.call(key, "GET", path, nil).want(t, http.StatusOK)
	e.call(key, "DELETE", path, nil).want(t, http.StatusNoContent)
	e.call(key, "GET", path, nil).want(t, http.StatusNotFound)
	e.call(key, "DELETE", path, nil).want(t, http.StatusNotFound)

	var audits int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE target_id = $1", id).Scan(&audits); err != nil || audits != 6 {
		t.Fatalf("audit entries for the contact: %d, %v; want 6 (create, update, patch, opt-out, opt-in, delete)", audits, err)
	}
}

func TestContactValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{MaxBodyBytes: 4096})
	_, key := e.account("acme")
	cases := []struct {
		body       any
		status     int
		code, text string
	}{
		{map[string]any{"phone": "12345"}, 400, CodeValidation, "no country code"},
		{map[string]any{"phone": "+1 415 555 0100", "email": "not-an-email"}, 400, CodeValidation, "email"},
		{map[string]any{"phone": "+1 415 555 0100", "time_zone": "Mars/Olympus"}, 400, CodeValidation, "time_zone"},
		{map[string]any{"phone": "+1 415 555 0100", "attributes": map[string]any{"bad key": 1}}, 400, CodeValidation, "attributes"},
		{map[string]any{"phone": "+1 415 555 0100", "attributes": map[string]any{"nested": map[string]any{"a": 1}}}, 400, CodeValidation, "string, number or boolean"},
		{map[string]any{"phone": "+1 415 555 0100", "tags": []string{strings.Repeat("t", 65)}}, 400, CodeValidation, "tags"},
		{map[string]any{"phone": "+1 415 555 0100", "name": strings.Repeat("n", 201)}, 400, CodeValidation, "name"},
		{map[string]any{"phone": "+1 415 555 0100", "default_country": "ZZ"}, 400, CodeValidation, "unknown default country"},
		{map[string]any{"phone": "+1 415 555 0100", "admin": true}, 400, CodeInvalidJSON, "unknown field"},
		{map[string]any{"phone": 14155550100}, 400, CodeInvalidJSON, "phone must be a string"},
		{map[string]any{"phone": "+1 415 555 0100", "name": strings.Repeat("n", 5000)}, 413, CodeTooLarge, "larger than"},
	}
	for _, c := range cases {
		r := e.call(key, "POST", "/v1/contacts", c.body)
		if r.Status != c.status || r.errCode() != c.code || !strings.Contains(string(r.Raw), c.text) {
			t.Errorf("%v: got %d %s, want %d %s saying %q", c.body, r.Status, r.Raw, c.status, c.code, c.text)
		}
	}
	raw := []struct {
		ctype, body string
		status      int
		code        string
	}{
		{"application/json", `{"phone":`, 400, CodeInvalidJSON},
		{"application/json", ``, 400, CodeInvalidJSON},
		{"application/json", `{"phone":"+14155550100"} {"phone":"+14155550101"}`, 400, CodeInvalidJSON},
		{"application/json", `["+14155550100"]`, 400, CodeInvalidJSON},
		{"text/plain", `{"phone":"+14155550100"}`, 415, CodeUnsupportedMedia},
	}
	for _, c := range raw {
		r := e.send(key, "POST", "/v1/contacts", c.ctype, strings.NewReader(c.body))
		if r.Status != c.status || r.errCode() != c.code {
			t.Errorf("%s %q: got %d %s, want %d %s", c.ctype, c.body, r.Status, r.Raw, c.status, c.code)
		}
	}
	var n int
	_ = e.pool.QueryRow(context.Background(), "SELECT count(*) FROM contacts").Scan(&n)
	if n != 0 {
		t.Fatalf("%d contacts were stored from invalid requests", n)
	}
}

func TestListContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	for i := range 7 {
		e.call(key, "POST", "/v1/contacts", map[string]any{
			"phone": fmt.Sprintf("+1415555%04d", 100+i), "name": fmt.Sprintf("Person %d", i),
			"tags": []string{map[bool]string{true: "even", false: "odd"}[i%2 == 0]}, "opted_in": i < 3,
		}).want(t, http.StatusCreated)
	}
	var ids []any
	next := ""
	for pages := 0; ; pages++ {
		r := e.call(key, "GET", "/v1/contacts?limit=3"+next, nil).want(t, http.StatusOK)
		ids = append(ids, r.Body["data"].([]any)...)
		c, ok := r.Body["next_cursor"].(string)
		if !ok {
			if pages != 2 {
				t.Fatalf("7 contacts in pages of 3 took %d pages", pages+1)
			}
			break
		}
		next = "&cursor=" + c
	}
	if len(ids) != 7 {
		t.Fatalf("paging returned %d contacts, want 7", len(ids))
	}
	count := func(query string) int {
		r := e.call(key, "GET", "/v1/contacts?"+query, nil).want(t, http.StatusOK)
		return len(r.Body["data"].([]any))
	}
	for q, want := range map[string]int{"tag=even": 4, "opted_in=true": 3, "tag=even&opted_in=true": 2, "q=person%205": 1, "q=4155550103": 1, "country=us": 7} {
		if got := count(q); got != want {
			t.Errorf("?%s: %d contacts, want %d", q, got, want)
		}
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=-1", "opted_in=maybe"} {
		if r := e.call(key, "GET", "/v1/contacts?"+q, nil); r.Status != 400 || r.errCode() != CodeValidation {
			t.Errorf("?%s: %d %s, want 400", q, r.Status, r.Raw)
		}
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	accountID, key := e.account("acme")
	e.call(key, "GET", "/v1/account", nil).want(t, http.StatusOK)
	for _, k := range []string{"", "nonsense", "dc_000000000000_" + strings.Repeat("A", 43), key[:len(key)-1] + "x"} {
		if r := e.call(k, "GET", "/v1/contacts", nil); r.Status != 401 || r.errCode() != CodeUnauthorized {
			t.Errorf("key %q: %d %s", k, r.Status, r.Raw)
		}
	}
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE account_id = $1", accountID); err != nil {
		t.Fatal(err)
	}
	e.call(key, "GET", "/v1/contacts", nil).want(t, http.StatusUnauthorized)
	if _, err := e.pool.Exec(ctx, "UPDATE api_keys SET expires_at = NULL, revoked_at = now() WHERE account_id = $1", accountID); err != nil {
		t.Fatal(err)
	}
	e.call(key, "GET", "/v1/contacts", nil).want(t, http.StatusUnauthorized)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	if r := e.call(key, "GET", "/v1/nothing", nil); r.Status != 404 || r.errCode() != CodeNotFound {
		t.Errorf("unknown route: %d %s", r.Status, r.Raw)
	}
	if r := e.call(key, "PUT", "/v1/contacts", nil); r.Status != 405 || r.errCode() != CodeMethodNotAllowed {
		t.Errorf("wrong method: %d %s", r.Status, r.Raw)
	}
	if r := e.call(key, "GET", "/v1/contacts/abc", nil); r.Status != 404 {
		t.Errorf("malformed id: %d %s", r.Status, r.Raw)
	}
	e.call("", "GET", "/healthz", nil).want(t, http.StatusOK)
	e.call("", "GET", "/readyz", nil).want(t, http.StatusOK)
	r := e.call("", "GET", "/metrics", nil).want(t, http.StatusOK)
	if !strings.Contains(string(r.Raw), `dripcast_http_requests_total{code="404",route="unmatched"}`) {
		t.Errorf("metrics do not count requests by route pattern:\n%s", r.Raw)
	}
	if strings.Contains(string(r.Raw), "/v1/contacts/abc") {
		t.Error("a raw path reached a metric label")
	}
	// Every tenant's counts are there: only this machine may read them, unless they have an
	// address of their own.
	remote := httptest.NewRequest("GET", "/metrics", nil)
	remote.RemoteAddr = "203.0.113.5:40000"
	remote.Header.Set("X-Forwarded-For", "127.0.0.1")
	rec := httptest.NewRecorder()
	e.api.Handler().ServeHTTP(rec, remote)
	if rec.Code != http.StatusForbidden {
		t.Errorf("/metrics from another machine: %d", rec.Code)
	}
	elsewhere := New(e.pool, e.api.rdb, e.api.log, Options{MetricsElsewhere: true, Secrets: e.api.opts.Secrets}, prometheus.NewRegistry(), prometheus.NewRegistry())
	rec = httptest.NewRecorder()
	elsewhere.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics on the API's address when it has its own: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	elsewhere.MetricsHandler().ServeHTTP(rec, remote)
	if rec.Code != http.StatusOK {
		t.Errorf("/metrics on its own address: %d", rec.Code)
	}
}
