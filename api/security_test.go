package api

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
)

// key adds a key with the role to the account.
func (e *env) key(account int64, role string) string {
	e.t.Helper()
	k := apikey.New()
	if _, err := queries.New(e.pool).CreateAPIKey(context.Background(), queries.CreateAPIKeyParams{AccountID: account,
		Name: role + " key", Prefix: k.Prefix, SecretHash: k.Hash, Role: role}); err != nil {
		e.t.Fatal(err)
	}
	return k.Token
}

// Every route that takes a key, called with a key of every role: a role the route does not list
// gets 403 before the handler runs; the others reach it. Ids name nothing, so no call changes data.
func TestEveryRouteChecksRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	account, _ := e.account("acme")
	keys := map[string]string{}
	for name := range role.Names {
		keys[name] = e.key(account, name)
	}
	walked := 0
	for _, rt := range e.api.routes() {
		if rt.access != byKey {
			continue
		}
		if rt.roles == 0 {
			t.Errorf("%s %s declares no roles", rt.method, rt.path)
		}
		path := strings.ReplaceAll(rt.path, "{id}", "999999")
		for name, set := range role.Names {
			r := e.call(keys[name], rt.method, path, nil)
			forbidden := r.Status == http.StatusForbidden && r.errCode() == CodeForbidden
			if allowed := rt.roles&set != 0; forbidden == allowed {
				t.Errorf("%s %s as %s: %d %s (allowed: %v)", rt.method, rt.path, name, r.Status, r.Raw, allowed)
			}
		}
		walked++
	}
	if walked < 60 {
		t.Fatalf("walked %d routes", walked)
	}
}

// recipientFixture makes a draft broadcast to one contact, Asha (+919876543210, tagged t), with
// her message row; it answers the contact's and the broadcast's ids.
func recipientFixture(t *testing.T, e *env, account int64, owner string) (contact, broadcast int64) {
	t.Helper()
	_, channel := channelFixture(t, e, owner, "100000000000001")
	tpl := e.call(owner, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated).num("id")
	contact = e.call(owner, "POST", "/v1/contacts", map[string]any{"phone": "+919876543210", "name": "Asha", "opted_in": true, "tags": []string{"t"}}).
		want(t, http.StatusCreated).num("id")
	broadcast = e.call(owner, "POST", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"phones": []string{"+919876543210"}}, "draft": true}).want(t, http.StatusCreated).num("id")
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, due_at)
		VALUES ($1, $2, $3, $4, $5, now())`, account, channel, contact, tpl, broadcast); err != nil {
		t.Fatal(err)
	}
	return contact, broadcast
}

// An analyst reads everything a marketer reads, with every phone number masked, in JSON and CSV.
func TestAnalystSeesMaskedPhones(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	account, owner := e.account("acme")
	analyst := e.key(account, "analyst")
	c, b := recipientFixture(t, e, account, owner)
	full := regexp.MustCompile(`\+?919876543210`)
	for _, path := range []string{"/v1/contacts", fmt.Sprintf("/v1/contacts/%d", c), fmt.Sprintf("/v1/broadcasts/%d", b),
		fmt.Sprintf("/v1/broadcasts/%d/recipients", b), fmt.Sprintf("/v1/broadcasts/%d/recipients?format=csv", b)} {
		r := e.call(analyst, "GET", path, nil).want(t, http.StatusOK)
		if full.Match(r.Raw) || !strings.Contains(string(r.Raw), "+91******3210") {
			t.Errorf("%s as analyst: %s", path, r.Raw)
		}
		if o := e.call(owner, "GET", path, nil); !full.Match(o.Raw) {
			t.Errorf("%s as owner shows no number: %s", path, o.Raw)
		}
	}
	r := e.call(analyst, "POST", "/v1/segments/preview", map[string]any{"rules": map[string]any{"field": "tags", "op": "contains", "value": "t"}}).want(t, http.StatusOK)
	if full.Match(r.Raw) {
		t.Errorf("segment sample as analyst: %s", r.Raw)
	}

	// No way around the mask: a search by phone digit by digit, a segment preview by phone (a batch
	// oracle), a template rendering the phone.
	for _, q := range []string{"%2B9198", "98765", "%2B91%2098765-43210"} {
		if r := e.call(analyst, "GET", "/v1/contacts?q="+q, nil); r.Status != http.StatusForbidden || !strings.Contains(string(r.Raw), "phone") {
			t.Errorf("analyst search %q: %d %s", q, r.Status, r.Raw)
		}
	}
	if r := e.call(analyst, "GET", "/v1/contacts?q=Ash", nil).want(t, http.StatusOK); !strings.Contains(string(r.Raw), "Asha") {
		t.Errorf("analyst search by name: %s", r.Raw)
	}
	byPhone := map[string]any{"rules": map[string]any{"any": []any{map[string]any{"field": "tags", "op": "contains", "value": "x"},
		map[string]any{"not": map[string]any{"field": "phone", "op": "in", "value": []string{"+919876543210", "+919876543211"}}}}}}
	if r := e.call(analyst, "POST", "/v1/segments/preview", byPhone); r.Status != http.StatusForbidden {
		t.Errorf("analyst segment preview by phone: %d %s", r.Status, r.Raw)
	}
	e.call(owner, "POST", "/v1/segments/preview", byPhone).want(t, http.StatusOK)
	phoneTpl := welcomeTemplate()
	phoneTpl["name"] = "your_number"
	phoneTpl["components"] = map[string]any{"body": map[string]any{"text": "We will call {{1}}."}}
	phoneTpl["parameters"] = map[string]any{"body.1": map[string]any{"source": "contact", "field": "phone"}}
	pt := e.call(owner, "POST", "/v1/templates", phoneTpl).want(t, http.StatusCreated).num("id")
	preview := fmt.Sprintf("/v1/templates/%d/preview", pt)
	if r := e.call(analyst, "POST", preview, map[string]any{"contact_id": c}).want(t, http.StatusOK); full.Match(r.Raw) {
		t.Errorf("template rendered for an analyst: %s", r.Raw)
	}
	if r := e.call(owner, "POST", preview, map[string]any{"contact_id": c}).want(t, http.StatusOK); !full.Match(r.Raw) {
		t.Errorf("template rendered for the owner: %s", r.Raw)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, owner := e.account("acme")
	e.call(owner, "POST", "/v1/api-keys", map[string]any{"name": "x", "role": "root"}).want(t, http.StatusBadRequest)
	e.call(owner, "POST", "/v1/api-keys", map[string]any{"name": "x", "role": "admin", "expires_at": "2001-01-01T00:00:00Z"}).want(t, http.StatusBadRequest)
	made := e.call(owner, "POST", "/v1/api-keys", map[string]any{"name": "CRM sync", "role": "marketer"}).want(t, http.StatusCreated)
	marketer, _ := made.Body["key"].(string)
	if !strings.HasPrefix(marketer, "dc_") || made.Body["role"] != "marketer" {
		t.Fatalf("created: %s", made.Raw)
	}
	if made.Header.Get("Cache-Control") != "no-store" || made.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the answer that shows a key once may be cached or sniffed: %v", made.Header)
	}
	if h := e.call("", "GET", "/healthz", nil).Header; h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("healthz headers: %v", h)
	}
	e.call(marketer, "GET", "/v1/contacts", nil).want(t, http.StatusOK)
	e.call(marketer, "POST", "/v1/portfolios", map[string]any{"name": "x"}).want(t, http.StatusForbidden)
	e.call(marketer, "GET", "/v1/api-keys", nil).want(t, http.StatusForbidden)
	list := e.call(owner, "GET", "/v1/api-keys", nil).want(t, http.StatusOK)
	if strings.Contains(string(list.Raw), marketer) || len(list.Body["data"].([]any)) != 2 {
		t.Errorf("list: %s", list.Raw)
	}
	if e.call(marketer, "GET", "/v1/account", nil).want(t, http.StatusOK); true {
		var used bool
		_ = e.pool.QueryRow(context.Background(), "SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1", made.num("id")).Scan(&used)
		if !used {
			t.Error("last_used_at not recorded")
		}
	}
	e.call(owner, "DELETE", fmt.Sprintf("/v1/api-keys/%d", made.num("id")), nil).want(t, http.StatusNoContent)
	e.call(owner, "DELETE", fmt.Sprintf("/v1/api-keys/%d", made.num("id")), nil).want(t, http.StatusConflict)
	e.call(marketer, "GET", "/v1/contacts", nil).want(t, http.StatusUnauthorized)
	var ownerID int64
	_ = e.pool.QueryRow(context.Background(), "SELECT id FROM api_keys WHERE role = 'owner'").Scan(&ownerID)
	e.call(owner, "DELETE", fmt.Sprintf("/v1/api-keys/%d", ownerID), nil).want(t, http.StatusConflict) // the last owner
	e.call(owner, "GET", "/v1/account", nil).want(t, http.StatusOK)
	// An expired key is refused like an unknown one.
	expiring := e.call(owner, "POST", "/v1/api-keys", map[string]any{"name": "temp", "role": "analyst", "expires_at": "2099-01-01T00:00:00Z"}).want(t, http.StatusCreated)
	if _, err := e.pool.Exec(context.Background(), "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", expiring.num("id")); err != nil {
		t.Fatal(err)
	}
	e.call(expiring.Body["key"].(string), "GET", "/v1/account", nil).want(t, http.StatusUnauthorized)
}

// callFrom calls through a trusted proxy that reports the client's address in X-Forwarded-For.
func (e *env) callFrom(forwarded, key, method, path string, body any) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, jsonBody(e.t, body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", forwarded)
	return e.do(req)
}

func TestAllowedIPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	_, owner := e.account("acme")
	const office = "198.51.100.7"
	e.callFrom(office, owner, "PUT", "/v1/account/allowed-ips", map[string]any{"allowed_ips": []string{"10.0.0.0/8"}}).want(t, http.StatusConflict)
	e.callFrom(office, owner, "PUT", "/v1/account/allowed-ips", map[string]any{"allowed_ips": []string{"not-an-ip"}}).want(t, http.StatusBadRequest)
	r := e.callFrom(office, owner, "PUT", "/v1/account/allowed-ips", map[string]any{"allowed_ips": []string{"198.51.100.0/24", "2001:db8::1"}}).want(t, http.StatusOK)
	if got := fmt.Sprint(r.Body["allowed_ips"]); got != "[198.51.100.0/24 2001:db8::1]" {
		t.Errorf("stored: %s", got)
	}
	e.callFrom(office, owner, "GET", "/v1/contacts", nil).want(t, http.StatusOK)
	if r := e.callFrom("203.0.113.9", owner, "GET", "/v1/contacts", nil).want(t, http.StatusForbidden); r.errCode() != CodeForbidden {
		t.Errorf("outsider: %s", r.Raw)
	}
	// Only the last hop the proxy saw counts: a client cannot slip an allowed address in front.
	e.callFrom(office+", 203.0.113.9", owner, "GET", "/v1/contacts", nil).want(t, http.StatusForbidden)
	e.callFrom("203.0.113.9, "+office, owner, "GET", "/v1/contacts", nil).want(t, http.StatusOK)
	var ip string
	_ = e.pool.QueryRow(context.Background(), "SELECT host(ip) FROM audit_log WHERE action = 'account.allowed_ips'").Scan(&ip)
	if ip != office {
		t.Errorf("audit ip %q, want the client's %s", ip, office)
	}
	// Without a trusted proxy, X-Forwarded-For is the client's word and is ignored.
	plain := newEnv(t, Options{})
	_, key := plain.account("b")
	plain.callFrom(office, key, "PUT", "/v1/account/allowed-ips", map[string]any{"allowed_ips": []string{office}}).want(t, http.StatusConflict)
}

func TestKeyRateLimit(t *testing.T) {
	t.Parallel()
	// One token a minute: a slow machine cannot refill the bucket between the calls.
	e := newEnv(t, Options{KeyRate: 1.0 / 60, KeyBurst: 2})
	_, key := e.account("acme")
	e.call(key, "GET", "/v1/account", nil).want(t, http.StatusOK)
	e.call(key, "GET", "/v1/account", nil).want(t, http.StatusOK)
	r := e.call(key, "GET", "/v1/account", nil)
	if after, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || after < 1 || after > 60 {
		t.Errorf("third call: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
	_, other := e.account("other")
	e.call(other, "GET", "/v1/account", nil).want(t, http.StatusOK) // each key has its own bucket
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	account, owner := e.account("acme")
	admin := e.key(account, "admin")
	c := e.call(owner, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "name": "A"}).want(t, http.StatusCreated).num("id")
	e.call(admin, "PATCH", fmt.Sprintf("/v1/contacts/%d", c), map[string]any{"name": "B"}).want(t, http.StatusOK)
	e.call(owner, "POST", "/v1/integrations", map[string]any{"name": "CRM", "kind": "generic",
		"mapping": map[string]any{"phone": "p", "event_name": "a.b"}}).want(t, http.StatusCreated)
	all := e.call(admin, "GET", "/v1/audit-log", nil).want(t, http.StatusOK).Body["data"].([]any)
	if len(all) != 3 || all[0].(map[string]any)["action"] != "integration.create" {
		t.Fatalf("newest first: %v", all)
	}
	if strings.Contains(fmt.Sprint(all), "whsec_") {
		t.Errorf("a secret reached the audit log: %v", all)
	}
	upd := e.call(admin, "GET", fmt.Sprintf("/v1/audit-log?target_type=contact&target_id=%d&action=contact.update", c), nil).want(t, http.StatusOK).Body["data"].([]any)
	entry := upd[0].(map[string]any)
	if len(upd) != 1 || entry["key_name"] != "admin key" || entry["ip"] != "127.0.0.1" ||
		entry["before"].(map[string]any)["name"] != "A" || entry["after"].(map[string]any)["name"] != "B" {
		t.Errorf("filtered: %v", upd)
	}
	page := e.call(admin, "GET", "/v1/audit-log?limit=2", nil).want(t, http.StatusOK)
	next := e.call(admin, "GET", "/v1/audit-log?limit=2&cursor="+page.Body["next_cursor"].(string), nil).want(t, http.StatusOK)
	if len(next.Body["data"].([]any)) != 1 {
		t.Errorf("second page: %s", next.Raw)
	}
	e.call(admin, "GET", "/v1/audit-log?since=yesterday", nil).want(t, http.StatusBadRequest)
	if _, err := e.pool.Exec(context.Background(), "UPDATE audit_log SET action = 'nothing'"); err == nil {
		t.Error("the audit log could be altered")
	}
}

// Every route that changes something writes an audit entry in the same transaction: each one is
// called here once, successfully, and must add exactly one entry naming the caller. The walk
// fails when a new mutation route is missing from it.
func TestEveryMutationIsAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	e.sim.AddNumber(metasim.Number{PhoneNumberID: "100000000000001", WABAID: "200000000000001", DisplayNumber: "+14155550199", Token: "EAAG-secret-token"})
	e.sim.AddNumber(metasim.Number{PhoneNumberID: "100000000000002", WABAID: "200000000000001", DisplayNumber: "+14155550198", Token: "EAAG-second"})
	account, key := e.account("acme")
	audited := map[string]bool{}
	do := func(pattern, path string, body any, want int) response {
		t.Helper()
		var before, after int
		count := func(n *int) { _ = e.pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_log").Scan(n) }
		count(&before)
		method, _, _ := strings.Cut(pattern, " ")
		var r response
		if u, ok := body.(upload); ok {
			r = e.upload(key, path, u).want(t, want)
		} else if csv, ok := body.(string); ok {
			r = e.send(key, method, path, "text/csv", strings.NewReader(csv)).want(t, want)
		} else {
			r = e.call(key, method, path, body).want(t, want)
		}
		count(&after)
		if after != before+1 {
			t.Errorf("%s wrote %d audit entries", pattern, after-before)
		}
		audited[pattern] = true
		return r
	}
	id := func(r response) string { return fmt.Sprint(r.num("id")) }

	p := do("POST /v1/portfolios", "/v1/portfolios", map[string]any{"name": "Main", "tier": 2000}, 201)
	do("PUT /v1/portfolios/{id}", "/v1/portfolios/"+id(p), map[string]any{"name": "Main 2"}, 200)
	ch := do("POST /v1/channels", "/v1/channels", map[string]any{"portfolio_id": p.num("id"), "phone_number_id": "100000000000001",
		"waba_id": "200000000000001", "display_number": "+14155550199", "access_token": "EAAG-secret-token", "app_secret": "s3cret-app"}, 201)
	do("PATCH /v1/channels/{id}", "/v1/channels/"+id(ch), map[string]any{"name": "Sales"}, 200)
	e.sim.AddTemplate(metasim.Template{Name: "order_ready", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
	do("POST /v1/channels/{id}/templates/sync", "/v1/channels/"+id(ch)+"/templates/sync", nil, 200)
	do("POST /v1/channels/{id}/media", "/v1/channels/"+id(ch)+"/media", newUpload(t, "file", "a.png", "image/png", pngFile), 201)
	c := do("POST /v1/contacts", "/v1/contacts", map[string]any{"phone": "+14155550100", "opted_in": true, "tags": []string{"vip"}}, 201)
	do("PATCH /v1/contacts/{id}", "/v1/contacts/"+id(c), map[string]any{"name": "Asha"}, 200)
	do("POST /v1/contacts/{id}/opt-out", "/v1/contacts/"+id(c)+"/opt-out", map[string]any{"source": "phone_call"}, 200)
	do("POST /v1/contacts/{id}/opt-in", "/v1/contacts/"+id(c)+"/opt-in", map[string]any{"source": "phone_call"}, 200)
	do("POST /v1/contacts/import", "/v1/contacts/import", "phone\n+14155550101\n", 200)
	seg := do("POST /v1/segments", "/v1/segments", map[string]any{"name": "VIP", "rules": map[string]any{"field": "tags", "op": "contains", "value": "vip"}}, 201)
	do("PUT /v1/segments/{id}", "/v1/segments/"+id(seg), map[string]any{"name": "VIPs", "rules": map[string]any{"field": "tags", "op": "contains", "value": "vip"}}, 200)
	tpl := do("POST /v1/templates", "/v1/templates", welcomeTemplate(), 201)
	do("PUT /v1/templates/{id}", "/v1/templates/"+id(tpl), welcomeTemplate(), 200)
	do("PUT /v1/account/settings", "/v1/account/settings", map[string]any{"auto_pause_failure_rate": 0.3}, 200)
	do("PUT /v1/account/prices", "/v1/account/prices", map[string]any{"prices": []map[string]any{
		{"category": "marketing", "country": "*", "price": 0.025, "currency": "USD"}}}, 200)
	do("POST /v1/broadcasts/test-send", "/v1/broadcasts/test-send", map[string]any{"channel_id": ch.num("id"), "template_id": tpl.num("id"),
		"phones": []string{"+14155550100"}}, 200)
	b := do("POST /v1/broadcasts", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": ch.num("id"), "template_id": tpl.num("id"),
		"audience": map[string]any{"segment_id": seg.num("id")}, "send_at": "2099-01-01T00:00:00Z"}, 201)
	do("PUT /v1/broadcasts/{id}", "/v1/broadcasts/"+id(b), map[string]any{"name": "b2", "channel_id": ch.num("id"), "template_id": tpl.num("id"),
		"audience": map[string]any{"segment_id": seg.num("id")}, "send_at": "2099-01-01T00:00:00Z"}, 200)
	do("POST /v1/broadcasts/{id}/pause", "/v1/broadcasts/"+id(b)+"/pause", nil, 200)
	do("POST /v1/broadcasts/{id}/resume", "/v1/broadcasts/"+id(b)+"/resume", nil, 200)
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, error_code)
		VALUES ($1, $2, $3, $4, $5, 'failed', now(), 131049)`, account, ch.num("id"), c.num("id"), tpl.num("id"), b.num("id")); err != nil {
		t.Fatal(err)
	}
	do("POST /v1/broadcasts/{id}/retry-failed", "/v1/broadcasts/"+id(b)+"/retry-failed", nil, 201)
	do("POST /v1/broadcasts/{id}/retarget", "/v1/broadcasts/"+id(b)+"/retarget", map[string]any{"slice": "failed_retryable"}, 201)
	do("POST /v1/broadcasts/{id}/cancel", "/v1/broadcasts/"+id(b)+"/cancel", nil, 200)
	do("PUT /v1/account/export-approval", "/v1/account/export-approval", map[string]any{"required": true}, 200)
	recipients := map[string]any{"kind": "recipients", "broadcast_id": b.num("id")}
	do("POST /v1/exports", "/v1/exports", recipients, 201)
	marketer := e.key(account, "marketer")
	asked := func() string {
		return id(e.call(marketer, "POST", "/v1/exports", recipients).want(t, http.StatusCreated))
	}
	do("POST /v1/exports/{id}/approve", "/v1/exports/"+asked()+"/approve", nil, 200)
	do("POST /v1/exports/{id}/reject", "/v1/exports/"+asked()+"/reject", nil, 200)
	seqBody := cartSequence(ch.num("id"), tpl.num("id"))
	seq := do("POST /v1/sequences", "/v1/sequences", seqBody, 201)
	do("PUT /v1/sequences/{id}", "/v1/sequences/"+id(seq), seqBody, 200)
	do("POST /v1/sequences/{id}/activate", "/v1/sequences/"+id(seq)+"/activate", nil, 200)
	enr := do("POST /v1/sequences/{id}/enrollments", "/v1/sequences/"+id(seq)+"/enrollments", map[string]any{"contact_id": c.num("id")}, 201)
	do("POST /v1/enrollments/{id}/exit", "/v1/enrollments/"+id(enr)+"/exit", nil, 200)
	do("POST /v1/sequences/{id}/pause", "/v1/sequences/"+id(seq)+"/pause", nil, 200)
	do("POST /v1/sequences/{id}/resume", "/v1/sequences/"+id(seq)+"/resume", nil, 200)
	do("POST /v1/sequences/{id}/archive", "/v1/sequences/"+id(seq)+"/archive", nil, 200)
	do("POST /v1/events", "/v1/events", map[string]any{"contact": map[string]any{"phone": "+14155550100"}, "name": "order.placed"}, 202)
	hook := do("POST /v1/integrations", "/v1/integrations", map[string]any{"name": "CRM", "kind": "generic",
		"mapping": map[string]any{"phone": "p", "event_name": "a.b"}}, 201)
	do("PATCH /v1/integrations/{id}", "/v1/integrations/"+id(hook), map[string]any{"name": "CRM 2"}, 200)
	do("DELETE /v1/integrations/{id}", "/v1/integrations/"+id(hook), nil, 204)
	k := do("POST /v1/api-keys", "/v1/api-keys", map[string]any{"name": "ci", "role": "analyst"}, 201)
	do("DELETE /v1/api-keys/{id}", "/v1/api-keys/"+id(k), nil, 204)
	do("PUT /v1/account/allowed-ips", "/v1/account/allowed-ips", map[string]any{"allowed_ips": []string{"127.0.0.1"}}, 200)
	do("DELETE /v1/segments/{id}", "/v1/segments/"+id(seg), nil, 204)
	do("POST /v1/contacts/{id}/erase", "/v1/contacts/"+id(c)+"/erase", nil, 200)
	do("DELETE /v1/contacts/{id}", "/v1/contacts/"+id(c), nil, 204)
	tpl2 := welcomeTemplate()
	tpl2["name"] = "spare"
	do("DELETE /v1/templates/{id}", "/v1/templates/"+id(do("POST /v1/templates", "/v1/templates", tpl2, 201)), nil, 204)
	p2 := do("POST /v1/portfolios", "/v1/portfolios", map[string]any{"name": "Spare"}, 201)
	ch2 := do("POST /v1/channels", "/v1/channels", map[string]any{"portfolio_id": p2.num("id"), "phone_number_id": "100000000000002",
		"waba_id": "200000000000001", "display_number": "+14155550198", "access_token": "EAAG-second", "app_secret": "s3cret-app-2"}, 201)
	do("DELETE /v1/channels/{id}", "/v1/channels/"+id(ch2), nil, 204)

	reads := map[string]bool{"POST /v1/segments/preview": true, "POST /v1/templates/{id}/preview": true}
	for _, rt := range e.api.routes() {
		pattern := rt.method + " " + rt.path
		if rt.access == byKey && rt.method != "GET" && !reads[pattern] && !audited[pattern] {
			t.Errorf("%s is not in the audit walk", pattern)
		}
	}
	var leaked int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE after::text ~ 'EAAG|s3cret|whsec_' OR before::text ~ 'EAAG|s3cret|whsec_'`).Scan(&leaked)
	if leaked > 0 {
		t.Errorf("%d audit entries hold a secret", leaked)
	}
}

// Two owner keys revoking each other at once: one wins, the account always keeps an owner.
func TestOwnersRevokingEachOtherKeepOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	for i := range 50 {
		account, first := e.account(fmt.Sprint("race-", i))
		second := e.key(account, "owner")
		ids := map[string]int64{}
		for _, k := range e.call(first, "GET", "/v1/api-keys", nil).want(t, 200).Body["data"].([]any) {
			k := k.(map[string]any)
			ids[k["name"].(string)] = int64(k["id"].(float64))
		}
		var wg sync.WaitGroup
		for _, c := range []struct {
			key    string
			victim int64
		}{{first, ids["owner key"]}, {second, ids["test"]}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("DELETE", fmt.Sprintf("%s/v1/api-keys/%d", e.srv.URL, c.victim), nil)
				req.Header.Set("Authorization", "Bearer "+c.key)
				_, _ = e.try(req)
			}()
		}
		wg.Wait()
		var owners int
		_ = e.pool.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE account_id = $1 AND role = 'owner' AND revoked_at IS NULL",
			account).Scan(&owners)
		if owners != 1 {
			t.Fatalf("round %d: %d working owner keys", i, owners)
		}
	}
}
