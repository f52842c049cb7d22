package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/whatsapp"
)

// broadcastFixture makes a channel, the welcome template and three contacts (two opted in,
// tagged "list"); it returns the channel and template ids.
func broadcastFixture(t *testing.T, e *env, key string) (int64, int64) {
	t.Helper()
	_, channel := channelFixture(t, e, key, "100000000000001")
	tpl := e.call(key, "POST", "/v1/templates", welcomeTemplate()).want(t, 201).num("id")
	for i, name := range []string{"=HYPERLINK(\"x\")", "Bea", "Cy"} {
		e.call(key, "POST", "/v1/contacts", map[string]any{"phone": fmt.Sprintf("+1415555%04d", i), "name": name, "tags": []string{"list"},
			"opted_in": i < 2, "attributes": map[string]any{"city": "SF", "store": "s1"}}).want(t, 201)
	}
	return channel, tpl
}

func TestBroadcastLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	channel, tpl := broadcastFixture(t, e, key)
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "Sale", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r := e.call(key, "POST", "/v1/broadcasts", body(map[string]any{"send_at": at})).want(t, 201)
	id := r.num("id")
	est := r.Body["audience_estimate"].(map[string]any)
	if r.Body["status"] != "scheduled" || est["matching"].(float64) != 3 || est["eligible"].(float64) != 2 {
		t.Fatalf("created: %s", r.Raw)
	}
	path := fmt.Sprintf("/v1/broadcasts/%d", id)
	r = e.call(key, "PUT", path, body(map[string]any{"name": "Sale 2", "local_date": "2026-12-01", "local_time": "10:00"})).want(t, 200)
	if r.Body["local_time"] != "10:00" || r.Body["local_date"] != "2026-12-01" || !strings.HasPrefix(r.Body["send_at"].(string), "2026-11-30T20:00:00") {
		t.Fatalf("a local-time broadcast starts when 10:00 comes in UTC+14: %s", r.Raw)
	}
	e.call(key, "POST", path+"/pause", nil).want(t, 200)
	if r := e.call(key, "POST", path+"/pause", nil); r.Status != 409 {
		t.Fatalf("pause twice: %d %s", r.Status, r.Raw)
	}
	if r := e.call(key, "POST", path+"/resume", nil).want(t, 200); r.Body["status"] != "scheduled" {
		t.Fatalf("resume before start: %s", r.Raw)
	}
	// Once started it cannot be edited.
	if _, err := e.pool.Exec(context.Background(), "UPDATE broadcasts SET status = 'running', started_at = now() WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if r := e.call(key, "PUT", path, body(nil)); r.Status != 409 {
		t.Fatalf("edit while running: %d %s", r.Status, r.Raw)
	}
	e.call(key, "POST", path+"/pause", nil).want(t, 200)
	if r := e.call(key, "POST", path+"/resume", nil).want(t, 200); r.Body["status"] != "running" {
		t.Fatalf("resume after start: %s", r.Raw)
	}
	r = e.call(key, "POST", path+"/cancel", nil).want(t, 200)
	if r.Body["status"] != "cancelled" || r.Body["finished_at"] == nil {
		t.Fatalf("cancel: %s", r.Raw)
	}
	if r := e.call(key, "POST", path+"/resume", nil); r.Status != 409 {
		t.Fatalf("resume a cancelled broadcast: %d", r.Status)
	}
	r = e.call(key, "GET", path+"/report", nil).want(t, 200)
	if !strings.Contains(string(r.Raw), `"audience":0`) {
		t.Fatalf("report of a broadcast never expanded: %s", r.Raw)
	}
}

func TestBroadcastValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	channel, tpl := broadcastFixture(t, e, key)
	paused := welcomeTemplate()
	paused["name"], paused["status"] = "paused_one", "paused"
	pausedID := e.call(key, "POST", "/v1/templates", paused).want(t, 201).num("id")
	cases := []struct {
		body   map[string]any
		status int
		text   string
	}{
		{map[string]any{"channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}}, 400, "name is required"},
		{map[string]any{"name": "x", "channel_id": 999, "template_id": tpl, "audience": map[string]any{"tag": "list"}}, 404, "channel"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": pausedID, "audience": map[string]any{"tag": "list"}}, 400, "only approved"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{}}, 400, "exactly one of"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "a", "segment_id": 1}}, 400, "exactly one of"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"segment_id": 999}}, 400, "no such segment"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"phones": []string{"+14155550000", "nope"}}}, 400, "not valid"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "local_time": "25:00", "local_date": "2026-12-01"}, 400, "local_time"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "rate_cap": 0}, 400, "rate_cap"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "send_at": time.Now().Add(time.Hour), "expires_at": time.Now()}, 400, "expires_at"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "parameters": map[string]any{"body.9": map[string]any{"source": "fixed", "value": "x"}}}, 400, "no such parameter"},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "retry": map[string]any{"mode": "often"}}, 400, `"retry.mode"`},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "retry": map[string]any{"mode": "smart", "days": 9}}, 400, `"retry.days"`},
		{map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "retry": map[string]any{"mode": "manual", "hours": []int{6}}}, 400, "12 to 24 hours"},
	}
	for _, c := range cases {
		r := e.call(key, "POST", "/v1/broadcasts", c.body)
		if r.Status != c.status || !strings.Contains(string(r.Raw), c.text) {
			t.Errorf("%v: %d %s, want %d saying %q", c.body, r.Status, r.Raw, c.status, c.text)
		}
	}
	// Listed phones are normalized and deduped; the estimate counts the contacts they match.
	r := e.call(key, "POST", "/v1/broadcasts", map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "draft": true,
		"audience": map[string]any{"phones": []string{"415 555 0000", "+1 (415) 555-0000", "+14155550001"}}, "default_country": "US"}).want(t, 201)
	if r.Body["status"] != "draft" || r.Body["audience_estimate"].(map[string]any)["matching"].(float64) != 2 {
		t.Fatalf("phones: %s", r.Raw)
	}
	r = e.call(key, "PUT", fmt.Sprintf("/v1/broadcasts/%d", r.num("id")), map[string]any{"name": "x", "channel_id": channel,
		"template_id": tpl, "audience": map[string]any{"tag": "list"}}).want(t, 200)
	if r.Body["status"] != "scheduled" {
		t.Fatalf("a draft saved without draft: true is scheduled: %s", r.Raw)
	}
}

// A broadcast that sets no retry policy gets the account's default; one that sets its own keeps
// it; none at all is null (failures stay failed).
func TestBroadcastRetryPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	channel, tpl := broadcastFixture(t, e, key)
	create := func(retry any) any {
		body := map[string]any{"name": "x", "channel_id": channel, "template_id": tpl, "audience": map[string]any{"tag": "list"}, "draft": true}
		if retry != nil {
			body["retry"] = retry
		}
		return e.call(key, "POST", "/v1/broadcasts", body).want(t, 201).Body["retry"]
	}
	if got := create(nil); got != nil {
		t.Errorf("without a policy: %v, want null", got)
	}
	if r := e.call(key, "PUT", "/v1/account/settings", map[string]any{"retry": map[string]any{"mode": "smart", "days": 1}}); r.Status != 400 ||
		!strings.Contains(string(r.Raw), "retry.days") {
		t.Errorf("a default of 1 day: %d %s", r.Status, r.Raw)
	}
	e.call(key, "PUT", "/v1/account/settings", map[string]any{"retry": map[string]any{"mode": "smart"}}).want(t, 200)
	if got := fmt.Sprint(create(nil)); got != "map[days:3 mode:smart]" {
		t.Errorf("with the account's default: %s, want smart over 3 days", got)
	}
	if got := fmt.Sprint(create(map[string]any{"mode": "manual", "hours": []int{12, 6}})); got != "map[hours:[12 6] mode:manual]" {
		t.Errorf("its own: %s", got)
	}
	if got := fmt.Sprint(create(map[string]any{"mode": "off"})); got != "map[mode:off]" {
		t.Errorf("off: %s", got)
	}
}

func TestRecipientsCSVNeutralizesFormulas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	channel, tpl := broadcastFixture(t, e, key)
	id := e.call(key, "POST", "/v1/broadcasts", map[string]any{"name": "x", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"tag": "list"}}).want(t, 201).num("id")
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, due_at)
		SELECT account_id, $1, id, $2, $3, now() FROM contacts`, channel, tpl, id); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+fmt.Sprintf("/v1/broadcasts/%d/recipients?format=csv", id), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if csv := string(e.do(req).Raw); !strings.Contains(csv, `"'=HYPERLINK(""x"")"`) || strings.Count(csv, "\n") != 4 {
		t.Fatalf("csv:\n%s", csv)
	}
	r := e.call(key, "GET", fmt.Sprintf("/v1/broadcasts/%d/recipients?status=pending&limit=2", id), nil).want(t, 200)
	if len(r.Body["data"].([]any)) != 2 || r.Body["next_cursor"] == nil {
		t.Fatalf("page: %s", r.Raw)
	}
}

func TestWebhookSignatureAndHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{WebhookVerifyToken: "verify-me"})
	_, key := e.account("acme")
	channelFixture(t, e, key, "100000000000001")
	r := e.send("", "GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=12345", "", nil)
	if r.Status != 200 || string(r.Raw) != "12345" {
		t.Fatalf("handshake: %d %s", r.Status, r.Raw)
	}
	e.send("", "GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", "", nil).want(t, http.StatusForbidden)

	body := `{"object":"whatsapp_business_account","entry":[{"id":"200000000000001","changes":[]}]}`
	post := func(sig string) response {
		req, _ := http.NewRequest("POST", e.srv.URL+"/webhooks/whatsapp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(whatsapp.SignatureHeader, sig)
		}
		return e.do(req)
	}
	if r := post(whatsapp.Sign([]byte(body), "app-secret-123")); r.Status != 200 {
		t.Fatalf("good signature: %d", r.Status)
	}
	for _, sig := range []string{"", "sha256=00", whatsapp.Sign([]byte(body), "another-secret"), whatsapp.Sign([]byte(body), "app-secret-123")[:20]} {
		if r := post(sig); r.Status != 401 {
			t.Errorf("signature %q: %d", sig, r.Status)
		}
	}
}

func TestAccountSettings(t *testing.T) {
	t.Parallel()
	e := newEnvWithoutMeta(t, Options{})
	_, key := e.account("acme")
	if r := e.call(key, "GET", "/v1/account/settings", nil).want(t, 200); string(r.Raw) != "{}\n" {
		t.Fatalf("defaults: %s", r.Raw)
	}
	e.call(key, "PUT", "/v1/account/settings", map[string]any{"frequency_cap": map[string]any{"max": 2, "days": 7}, "auto_pause_failure_rate": 0.3}).want(t, 200)
	if r := e.call(key, "GET", "/v1/account/settings", nil); r.Body["auto_pause_failure_rate"] != 0.3 {
		t.Fatalf("stored: %s", r.Raw)
	}
	e.call(key, "PUT", "/v1/account/settings", map[string]any{"retention": map[string]any{"content_days": 30}}).want(t, 200)
	for _, bad := range []map[string]any{{"frequency_cap": map[string]any{"max": 0, "days": 7}}, {"auto_pause_failure_rate": 2},
		{"retention": map[string]any{"content_days": 0}}, {"retention": map[string]any{"content_days": 4000}}} {
		if r := e.call(key, "PUT", "/v1/account/settings", bad); r.Status != 400 {
			t.Errorf("%v: %d", bad, r.Status)
		}
	}
	r := e.call(key, "POST", "/v1/broadcasts/test-send", map[string]any{"channel_id": 1, "template_id": 1, "phones": []string{"+14155550100"}})
	if r.Status != 503 {
		t.Fatalf("test send without a client: %d %s", r.Status, r.Raw)
	}
	e.call(key, "POST", "/v1/broadcasts/test-send", map[string]any{"channel_id": 1, "template_id": 1, "phones": []string{}}).want(t, 400)
	e.call(key, "POST", "/v1/broadcasts/999/retry-failed", nil).want(t, 404)
}

// The account's quiet hours: a send window in its settings that new broadcasts and sequences
// without a window of their own get; one of their own wins.
func TestAccountQuietHours(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	_, channel := channelFixture(t, e, key, "100000000000001")
	tpl := e.call(key, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated).num("id")
	e.call(key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "tags": []string{"vip"}, "opted_in": true}).want(t, http.StatusCreated)
	bad := e.call(key, "PUT", "/v1/account/settings", map[string]any{"send_window": map[string]any{"start": "21:00", "end": "09:00"}})
	if bad.Status != 400 || bad.Body["error"].(map[string]any)["field"] != "send_window" {
		t.Fatalf("a window that ends before it starts: %s", bad.Raw)
	}
	quiet := map[string]any{"days": []string{"mon", "tue", "wed", "thu", "fri"}, "start": "09:00", "end": "20:00"}
	e.call(key, "PUT", "/v1/account/settings", map[string]any{"send_window": quiet}).want(t, http.StatusOK)

	b := e.call(key, "POST", "/v1/broadcasts", map[string]any{"name": "Sale", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"tag": "vip"}, "draft": true}).want(t, http.StatusCreated)
	if w := fmt.Sprint(b.Body["send_window"]); w != fmt.Sprint(quiet) {
		t.Errorf("a broadcast without a window got %s, want the account's %v", w, quiet)
	}
	own := map[string]any{"start": "10:00", "end": "11:00"}
	b = e.call(key, "POST", "/v1/broadcasts", map[string]any{"name": "Flash", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"tag": "vip"}, "draft": true, "send_window": own}).want(t, http.StatusCreated)
	if w := b.Body["send_window"].(map[string]any); w["start"] != "10:00" || w["days"] != nil {
		t.Errorf("a broadcast's own window: %v", w)
	}
	s := e.call(key, "POST", "/v1/sequences", cartSequence(channel, tpl)).want(t, http.StatusCreated)
	if w := fmt.Sprint(s.Body["send_window"]); w != fmt.Sprint(quiet) {
		t.Errorf("a sequence without a window got %s", w)
	}
}
