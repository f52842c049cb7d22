package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/whatsapp"
)

// tenant is an account with a verified channel of its own on the env's metasim.
type tenant struct {
	account            int64
	key                string
	number, waba       string
	display, appSecret string
	channel            int64
}

func newTenant(t *testing.T, e *env, name, number, waba, display string) tenant {
	t.Helper()
	tn := tenant{number: number, waba: waba, display: display, appSecret: "app-secret-" + name}
	tn.account, tn.key = e.account(name)
	e.sim.AddNumber(metasim.Number{PhoneNumberID: number, WABAID: waba, DisplayNumber: display, Token: "EAAG-token-" + name})
	p := e.call(tn.key, "POST", "/v1/portfolios", map[string]any{"name": "Main", "tier": 2000}).want(t, http.StatusCreated)
	tn.channel = e.call(tn.key, "POST", "/v1/channels", map[string]any{"portfolio_id": p.num("id"), "phone_number_id": number,
		"waba_id": waba, "display_number": "+19999999999", // what a user typed: ignored, Meta's is stored
		"access_token": "EAAG-token-" + name, "app_secret": tn.appSecret}).want(t, http.StatusCreated).num("id")
	return tn
}

// webhook posts a Meta delivery signed with secret.
func (e *env) webhook(secret string, body []byte) response {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(body, secret))
	return e.do(req)
}

// delivery is a notification body with one entry per (WABA, field, value).
func delivery(t *testing.T, entries ...[3]any) []byte {
	t.Helper()
	var list []map[string]any
	for _, e := range entries {
		list = append(list, map[string]any{"id": e[0], "time": time.Now().Unix(),
			"changes": []any{map[string]any{"field": e[1], "value": e[2]}}})
	}
	b, err := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": list})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func meta(number string) map[string]string {
	return map[string]string{"display_phone_number": "14155550199", "phone_number_id": number}
}

// snapshot is every row of an account in the tables a webhook can change, as JSON.
func snapshot(t *testing.T, e *env, account int64) string {
	t.Helper()
	var out string
	err := e.pool.QueryRow(context.Background(), `SELECT jsonb_build_object(
		'contacts', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM contacts x WHERE account_id = $1),
		'consent', (SELECT count(*) FROM consent_events x WHERE account_id = $1),
		'messages', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM messages x WHERE account_id = $1),
		'channels', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM channels x WHERE account_id = $1),
		'portfolios', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM portfolios x WHERE account_id = $1),
		'templates', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM templates x WHERE account_id = $1),
		'broadcasts', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM broadcasts x WHERE account_id = $1),
		'sequences', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM sequences x WHERE account_id = $1),
		'enrollments', (SELECT jsonb_agg(to_jsonb(x) ORDER BY id) FROM enrollments x WHERE account_id = $1))::text`, account).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Account A signs, with its own channel's app secret, deliveries that name account B's number and
// WABA (the outside probe's six forgeries). Each is refused and leaves every row of B unchanged;
// B's own genuine multi-entry delivery still applies.
func TestWebhookForgeriesAcrossAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	a := newTenant(t, e, "a", "100000000000001", "200000000000001", "+14155550188")
	b := newTenant(t, e, "b", "100000000000002", "200000000000002", "+14155550199")
	ctx := context.Background()

	tpl := e.call(b.key, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated).num("id")
	in := e.call(b.key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550100", "opted_in": true}).want(t, 201).num("id")
	out := e.call(b.key, "POST", "/v1/contacts", map[string]any{"phone": "+14155550101", "opted_in": false}).want(t, 201).num("id")
	seq := e.call(b.key, "POST", "/v1/sequences", cartSequence(b.channel, tpl)).want(t, 201).num("id")
	e.call(b.key, "POST", fmt.Sprintf("/v1/sequences/%d/activate", seq), nil).want(t, 200)
	e.call(b.key, "POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"contact_id": in}).want(t, 201)
	bc := e.call(b.key, "POST", "/v1/broadcasts", map[string]any{"name": "Sale", "channel_id": b.channel, "template_id": tpl,
		"audience": map[string]any{"contact_ids": []int64{in}}, "send_at": "2099-01-01T00:00:00Z"}).want(t, 201).num("id")
	var msg int64
	_ = out // opted out: the forged "resume" must not opt them in
	if err := e.pool.QueryRow(ctx, `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, wamid, sent_at)
		VALUES ($1, $2, $3, $4, $5, 'sent', now(), 'wamid.B', now()) RETURNING id`, b.account, b.channel, in, tpl, bc).Scan(&msg); err != nil {
		t.Fatal(err)
	}

	stop := map[string]any{"messaging_product": "whatsapp", "metadata": meta(b.number),
		"messages": []any{map[string]any{"from": "14155550100", "id": "wamid.IN1", "timestamp": fmt.Sprint(time.Now().Unix()),
			"type": "text", "text": map[string]string{"body": "STOP"}}}}
	reply := map[string]any{"messaging_product": "whatsapp", "metadata": meta(b.number),
		"messages": []any{map[string]any{"from": "14155550100", "id": "wamid.IN2", "timestamp": fmt.Sprint(time.Now().Unix()),
			"type": "text", "text": map[string]string{"body": "tell me more"}, "context": map[string]string{"id": "wamid.B"}}}}
	resume := map[string]any{"messaging_product": "whatsapp", "metadata": meta(b.number),
		"user_preferences": []any{map[string]any{"wa_id": "14155550101", "category": "marketing_messages", "value": "resume",
			"timestamp": time.Now().Unix()}}}
	read := func(number string, at int64) map[string]any {
		return map[string]any{"messaging_product": "whatsapp", "metadata": meta(number), "statuses": []any{
			map[string]any{"id": "wamid.B", "status": "read", "timestamp": fmt.Sprint(at), "recipient_id": "14155550100",
				"biz_opaque_callback_data": fmt.Sprint(msg)}}}
	}
	quality := map[string]any{"display_phone_number": "14155550199", "event": "FLAGGED", "max_daily_conversations_per_business": "TIER_UNLIMITED"}
	template := func(event string) map[string]any {
		return map[string]any{"event": event, "message_template_id": 1, "message_template_name": "welcome_offer",
			"message_template_language": "en_US", "reason": "NONE"}
	}
	forgeries := map[string][]byte{
		"a: STOP text":            delivery(t, [3]any{b.waba, "messages", stop}),
		"b: resume":               delivery(t, [3]any{b.waba, "user_preferences", resume}),
		"c: read in 1970":         delivery(t, [3]any{b.waba, "messages", read(b.number, 1)}),
		"c: read in 2100":         delivery(t, [3]any{b.waba, "messages", read(b.number, 4102444800)}),
		"c: B's number, A's WABA": delivery(t, [3]any{a.waba, "messages", read(b.number, time.Now().Unix())}),
		"d: quality and tier":     delivery(t, [3]any{b.waba, "phone_number_quality_update", quality}),
		"e: template disabled":    delivery(t, [3]any{b.waba, "message_template_status_update", template("DISABLED")}),
		"e: template approved":    delivery(t, [3]any{b.waba, "message_template_status_update", template("APPROVED")}),
		"e: template quality": delivery(t, [3]any{b.waba, "message_template_quality_update", map[string]any{"new_quality_score": "RED",
			"message_template_name": "welcome_offer", "message_template_language": "en_US"}}),
		"f: reply ends enrollment": delivery(t, [3]any{b.waba, "messages", reply}),
		"A's entry, then B's":      delivery(t, [3]any{a.waba, "messages", read(a.number, time.Now().Unix())}, [3]any{b.waba, "messages", stop}),
	}
	before := snapshot(t, e, b.account)
	for name, body := range forgeries {
		if r := e.webhook(a.appSecret, body); r.Status != http.StatusUnauthorized {
			t.Errorf("%s, signed by A: %d %s", name, r.Status, r.Raw)
		}
	}
	// A's own number, with B's message id as the callback data: applied to A's messages only.
	if r := e.webhook(a.appSecret, delivery(t, [3]any{a.waba, "messages", read(a.number, time.Now().Unix())})); r.Status != 200 {
		t.Errorf("A's own delivery: %d %s", r.Status, r.Raw)
	}
	if after := snapshot(t, e, b.account); after != before {
		t.Fatalf("B's rows changed:\nbefore %s\nafter  %s", before, after)
	}

	// B's genuine delivery, two entries with one secret: a status with a timestamp in 1970 (stored
	// as the time of receipt) and a template pause.
	start := time.Now().Add(-time.Second)
	genuine := delivery(t, [3]any{b.waba, "messages", read(b.number, 1)}, [3]any{b.waba, "message_template_status_update", template("PAUSED")})
	e.webhook(b.appSecret, genuine).want(t, http.StatusOK)
	var status, tplStatus string
	var readAt time.Time
	_ = e.pool.QueryRow(ctx, "SELECT status::text, read_at FROM messages WHERE id = $1", msg).Scan(&status, &readAt)
	_ = e.pool.QueryRow(ctx, "SELECT status FROM templates WHERE id = $1", tpl).Scan(&tplStatus)
	if status != "read" || readAt.Before(start) || tplStatus != "paused" {
		t.Fatalf("B's genuine delivery: message %s read at %v, template %s", status, readAt, tplStatus)
	}
}

// An address whose deliveries keep failing their signature is refused for a while.
func TestForgedWebhooksAreCheapAndLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{HookFailureRate: 0.001, HookFailureBurst: 5})
	a := newTenant(t, e, "a", "100000000000001", "200000000000001", "+14155550188")
	body := delivery(t, [3]any{a.waba, "messages", map[string]any{"metadata": meta(a.number)}})
	for i := range 5 {
		if r := e.webhook("guessed-secret", body); r.Status != http.StatusUnauthorized {
			t.Fatalf("forgery %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := e.webhook("guessed-secret", body)
	if r.Status != http.StatusTooManyRequests || r.errCode() != CodeRateLimited {
		t.Fatalf("sixth forgery from one address: %d %s", r.Status, r.Raw)
	}
}

// A caller that sends its body slowly is cut off at the read deadline of the unauthenticated
// routes, not after the 10 minutes imports may take.
func TestSlowWebhookBodyIsCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{HookReadTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, _ := io.ReadAll(conn) // the server answers (or just closes) once its deadline passes
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the connection stayed open %v: %q", took, answer)
	}
}

// A tenant cannot register another tenant's number or WABA: Meta, asked with the token given,
// does not confirm them, and the answer is the one a number registered already gets.
func TestChannelOfAnotherTenantIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	a := newTenant(t, e, "a", "100000000000001", "200000000000001", "+14155550188")
	b := newTenant(t, e, "b", "100000000000002", "200000000000002", "+14155550199")
	p := e.call(a.key, "POST", "/v1/portfolios", map[string]any{"name": "Shadow"}).want(t, http.StatusCreated).num("id")
	for name, body := range map[string]map[string]any{
		"B's number with A's token": {"phone_number_id": b.number, "waba_id": b.waba, "access_token": "EAAG-token-a"},
		"A's number in B's WABA":    {"phone_number_id": a.number, "waba_id": b.waba, "access_token": "EAAG-token-a"},
		"B's number again":          {"phone_number_id": b.number, "waba_id": b.waba, "access_token": "EAAG-token-b"},
	} {
		body["portfolio_id"], body["app_secret"] = p, "shadow-secret"
		if r := e.call(a.key, "POST", "/v1/channels", body); r.Status != http.StatusUnprocessableEntity || r.errCode() != CodeNotVerified {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	var channels int
	_ = e.pool.QueryRow(context.Background(), "SELECT count(*) FROM channels WHERE account_id = $1", a.account).Scan(&channels)
	if channels != 1 {
		t.Errorf("account A has %d channels, want its own only", channels)
	}
	// The display number stored is Meta's, not what the caller typed.
	var display string
	_ = e.pool.QueryRow(context.Background(), "SELECT display_number FROM channels WHERE id = $1", b.channel).Scan(&display)
	if display != "+14155550199" {
		t.Errorf("B's display number: %s", display)
	}
}
