package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/queries"
)

// sequenceOf makes a draft sequence of one step sending template tpl on the account's channel.
func (e *env) sequenceOf(account, tpl int64) int64 {
	e.t.Helper()
	var channel int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM channels WHERE account_id = $1`, account).Scan(&channel); err != nil {
		e.t.Fatal(err)
	}
	seq, err := drip.CreateSequence(context.Background(), e.pool, audit.Actor{AccountID: account}, drip.SequenceInput{Name: "Welcome",
		ChannelID: channel, Definition: drip.Definition{Steps: []drip.Step{{TemplateID: tpl}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return seq.ID
}

// channelAndTemplate makes the account's channel and approved template (with a broadcast).
func (e *env) channelAndTemplate(account int64) (channel, tpl int64) {
	e.t.Helper()
	e.broadcastOf(account)
	err := e.pool.QueryRow(context.Background(), `SELECT c.id, t.id FROM channels c, templates t WHERE c.account_id = $1 AND t.account_id = $1`,
		account).Scan(&channel, &tpl)
	if err != nil {
		e.t.Fatal(err)
	}
	return channel, tpl
}

// enrollmentOf activates a new one-step sequence of template tpl and enrolls the contact in it.
func (e *env) enrollmentOf(account, tpl, contact int64) int64 {
	e.t.Helper()
	ctx, by := context.Background(), audit.Actor{AccountID: account}
	seq := e.sequenceOf(account, tpl)
	if _, err := drip.Move(ctx, e.pool, by, seq, drip.ActionActivate); err != nil {
		e.t.Fatal(err)
	}
	en, err := e.c.drips.EnrollByHand(ctx, by, seq, contact, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return en.ID
}

// A marketer activates, pauses, resumes and archives a sequence from its page, each audited as
// theirs; an analyst sees the page without the buttons.
func TestSequencePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	e.broadcastOf(account) // a channel and an approved template
	var tpl int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM templates WHERE account_id = $1`, account).Scan(&tpl)
	id := e.sequenceOf(account, tpl)
	b := e.signIn(account, "marketer")
	page := fmt.Sprintf("/sequences/%d", id)
	if _, body := b.do("GET", "/sequences", nil); !strings.Contains(body, page) {
		t.Fatal("the list lacks the sequence")
	}
	for _, step := range []struct{ action, want string }{{"activate", "active"}, {"pause", "paused"}, {"resume", "active"}, {"archive", "archived"}} {
		if _, body := b.do("GET", page, nil); !strings.Contains(body, `id="`+step.action+`"`) {
			t.Fatalf("no %s button", step.action)
		}
		if status, _ := b.do("POST", page+"/"+step.action, nil); status != http.StatusSeeOther {
			t.Fatalf("%s: %d", step.action, status)
		}
		s, _ := queries.New(e.pool).GetSequence(context.Background(), queries.GetSequenceParams{AccountID: account, ID: id})
		if string(s.Status) != step.want {
			t.Fatalf("after %s: %s", step.action, s.Status)
		}
	}
	if status, _ := b.do("POST", page+"/activate", nil); status != http.StatusConflict {
		t.Fatalf("activate an archived sequence: %d", status)
	}
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE account_id = $1 AND target_id = $2
		AND action LIKE 'sequence.%' AND actor_user_id IS NOT NULL`, account, id).Scan(&audited)
	if audited != 4 {
		t.Fatalf("%d sequence changes audited as the user's, want 4", audited)
	}
	if status, body := e.signIn(account, "analyst").do("GET", page, nil); status != http.StatusOK || strings.Contains(body, `id="sequence-actions"`) {
		t.Fatalf("an analyst's view: %d", status)
	}
}

// builderForm is a complete two-step sequence as the builder posts it.
func builderForm(channel, tpl int64) url.Values {
	return url.Values{"name": {"Cart rescue"}, "channel_id": {fmt.Sprint(channel)}, "starts": {"event"}, "trigger_event": {"cart.abandoned"},
		"tf.0.property": {"total"}, "tf.0.op": {"gte"}, "tf.0.value": {"50"},
		"start_on": {"on"}, "start.kind": {"all"}, "start.0.kind": {"cond"}, "start.0.field": {"opted_in"}, "start.0.op": {"eq"}, "start.0.value": {"true"},
		"exit_reply": {"on"}, "exit_success": {"order.placed"}, "reentry": {"again"}, "cool_amount": {"7"}, "cool_unit": {"days"},
		"time_zone": {"Asia/Kolkata"}, "win.on": {"on"}, "win.days": {"mon", "tue"}, "win.start": {"09:00"}, "win.end": {"18:00"},
		"s.0.template": {fmt.Sprint(tpl)}, "s.0.amount": {"30"}, "s.0.unit": {"minutes"}, "s.0.from": {"previous"},
		"s.1.template": {fmt.Sprint(tpl)}, "s.1.amount": {"1"}, "s.1.unit": {"days"}, "s.1.from": {"previous"},
		"s.1.cond_on": {"on"}, "c1.kind": {"all"}, "c1.0.kind": {"cond"}, "c1.0.field": {"tags"}, "c1.0.op": {"contains"}, "c1.0.value": {"vip"},
		"s.1.win.on": {"on"}, "s.1.win.start": {"10:00"}, "s.1.win.end": {"12:00"}}
}

// The builder: a draft saves incomplete and does not activate; completed, it saves and activates
// with every part of the definition as typed; an edit of the active sequence is a new version; a
// mistake comes back beside its section; steps reorder.
func TestSequenceBuilder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	channel, tpl := e.channelAndTemplate(account)
	b := e.signIn(account, "marketer")
	if status, body := b.do("GET", "/sequences/new", nil); status != http.StatusOK || !strings.Contains(body, `name="s.0.template"`) {
		t.Fatalf("new sequence page: %d", status)
	}
	if _, body := b.do("POST", "/sequences/new", url.Values{"act": {"step-add"}, "s.0.template": {"0"}}); !strings.Contains(body, `name="s.1.template"`) {
		t.Fatal("+ step added no step")
	}

	status, _ := b.do("POST", "/sequences/new", url.Values{"name": {"Cart rescue"}, "channel_id": {fmt.Sprint(channel)}, "s.0.template": {"0"},
		"s.0.amount": {"0"}, "s.0.unit": {"minutes"}, "save": {"draft"}})
	var id int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM sequences WHERE account_id = $1`, account).Scan(&id)
	if status != http.StatusSeeOther || id == 0 {
		t.Fatalf("save an incomplete draft: %d", status)
	}
	page := fmt.Sprintf("/sequences/%d", id)
	if _, body := b.do("GET", page, nil); !strings.Contains(body, `id="sequence-problem"`) || !strings.Contains(body, "no approved template") {
		t.Fatal("the draft's page does not say what it lacks")
	}
	if status, _ := b.do("POST", page+"/activate", nil); status != http.StatusBadRequest {
		t.Fatalf("activate an incomplete draft: %d", status)
	}

	form := builderForm(channel, tpl)
	form.Set("save", "activate")
	if status, body := b.do("POST", page+"/edit", form); status != http.StatusSeeOther {
		t.Fatalf("save and activate: %d\n%s", status, body)
	}
	seq, err := drip.GetSequence(context.Background(), queries.New(e.pool), account, id)
	if err != nil || seq.Status != queries.SequenceStatusActive || seq.Version != 1 {
		t.Fatalf("after save and activate: %+v %v", seq, err)
	}
	raw, _ := json.Marshal(seq.Definition)
	for _, want := range []string{`"event":"cart.abandoned"`, `"property":"total","op":"gte","value":50`, `"start_condition":{"all":[{"field":"opted_in","op":"eq","value":true}]}`,
		`"on_reply":true`, `"success":{"events":["order.placed"]}`, `"run_once":false`, `"reentry_after":{"amount":7,"unit":"days"}`,
		`"time_zone":"Asia/Kolkata"`, `"send_window":{"days":["mon","tue"],"start":"09:00","end":"18:00"}`,
		`"delay":{"amount":30,"unit":"minutes"}`, `"condition":{"all":[{"field":"tags","op":"contains","value":"vip"}]}`,
		`"send_window":{"start":"10:00","end":"12:00"}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the definition lacks %s:\n%s", want, raw)
		}
	}

	_, body := b.do("GET", page+"/edit", nil)
	for _, want := range []string{`value="cart.abandoned"`, `id="version-note"`, `name="c1.0.value" value="vip"`, `value="Asia/Kolkata"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the edit page lacks %s", want)
		}
	}
	form.Set("save", "save")
	form.Set("s.1.amount", "2")
	if status, _ := b.do("POST", page+"/edit", form); status != http.StatusSeeOther {
		t.Fatalf("edit the active sequence: %d", status)
	}
	if seq, _ = drip.GetSequence(context.Background(), queries.New(e.pool), account, id); seq.Version != 2 || seq.Steps[1].Delay.Amount != 2 {
		t.Fatalf("the edit: version %d, delay %d", seq.Version, seq.Steps[1].Delay.Amount)
	}

	for field, want := range map[string]string{"time_zone": "or an IANA zone", "trigger_event": "name an event in lower case",
		"s.1.amount": "give the delay as a whole number", "win.end": "start before end"} {
		bad := builderForm(channel, tpl)
		bad.Set(field, "Nowhere/Else")
		bad.Set("save", "save")
		if status, body := b.do("POST", page+"/edit", bad); status != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s wrong: %d, the page lacks %q", field, status, want)
		}
	}
	if seq, _ = drip.GetSequence(context.Background(), queries.New(e.pool), account, id); seq.Version != 2 {
		t.Errorf("a refused edit made version %d", seq.Version)
	}

	moved := builderForm(channel, tpl)
	moved.Set("act", "step-down:0")
	_, body = b.do("POST", page+"/edit", moved)
	if first, second := strings.Index(body, `name="c0.0.value" value="vip"`), strings.Index(body, `id="s-1-amount" value="30"`); first < 0 || second < 0 {
		t.Errorf("step-down did not swap the steps (condition at %d, delay at %d)", first, second)
	}
}

// A marketer enrolls a contact by number, follows their journey and takes them out; both are
// audited as theirs.
func TestEnrollByHand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	e.broadcastOf(account)
	var tpl int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM templates WHERE account_id = $1`, account).Scan(&tpl)
	seq := e.sequenceOf(account, tpl)
	if _, err := drip.Move(context.Background(), e.pool, audit.Actor{AccountID: account}, seq, drip.ActionActivate); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO contacts (account_id, phone, opted_in) VALUES ($1, '+14155550123', true)`, account); err != nil {
		t.Fatal(err)
	}
	b := e.signIn(account, "marketer")
	page := fmt.Sprintf("/sequences/%d", seq)
	if status, body := b.do("POST", page+"/enroll", url.Values{"phone": {"+14155550999"}}); status != http.StatusBadRequest || !strings.Contains(body, "no contact has this number") {
		t.Fatalf("enroll an unknown number: %d", status)
	}
	if status, _ := b.do("POST", page+"/enroll", url.Values{"phone": {"+1 415 555 0123"}}); status != http.StatusSeeOther {
		t.Fatalf("enroll: %d", status)
	}
	if status, body := b.do("POST", page+"/enroll", url.Values{"phone": {"+14155550123"}}); status != http.StatusConflict || !strings.Contains(body, "already_enrolled") {
		t.Fatalf("enroll again in a run-once sequence: %d", status)
	}
	var enrollment int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM enrollments WHERE sequence_id = $1`, seq).Scan(&enrollment)
	journey := fmt.Sprintf("/enrollments/%d", enrollment)
	if status, body := b.do("GET", journey, nil); status != http.StatusOK || !strings.Contains(body, `id="journey"`) || !strings.Contains(body, "promo") {
		t.Fatalf("journey: %d", status)
	}
	if status, _ := b.do("POST", journey+"/exit", nil); status != http.StatusSeeOther {
		t.Fatalf("exit: %d", status)
	}
	en, _ := queries.New(e.pool).GetEnrollment(context.Background(), queries.GetEnrollmentParams{AccountID: account, ID: enrollment})
	if en.Status != queries.EnrollmentStatusExited || en.ExitReason != "manual" {
		t.Fatalf("after exit: %s %s", en.Status, en.ExitReason)
	}
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE account_id = $1 AND target_id = $2
		AND action IN ('enrollment.create', 'enrollment.exit') AND actor_user_id IS NOT NULL`, account, enrollment).Scan(&audited)
	if audited != 2 {
		t.Fatalf("%d enrollment changes audited as the user's, want 2", audited)
	}
}

// A marketer sends the sequence's trigger event for a number, as an integration would: the event
// is recorded (the number becomes a contact) and audited as theirs; bad properties come back.
func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	channel, tpl := e.channelAndTemplate(account)
	seq, err := drip.CreateSequence(context.Background(), e.pool, audit.Actor{AccountID: account}, drip.SequenceInput{Name: "Cart",
		ChannelID: channel, Definition: drip.Definition{Trigger: &drip.Trigger{Event: "cart.abandoned"}, Steps: []drip.Step{{TemplateID: tpl}}}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn(account, "marketer")
	page := fmt.Sprintf("/sequences/%d", seq.ID)
	if status, body := b.do("POST", page+"/event", url.Values{"event_phone": {"+14155550177"}, "properties": {"[1, 2]"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "JSON object") {
		t.Fatalf("properties that are not an object: %d", status)
	}
	if status, _ := b.do("POST", page+"/event", url.Values{"event_phone": {"+14155550177"}, "properties": {`{"total": 80}`}}); status != http.StatusSeeOther {
		t.Fatalf("send: %d", status)
	}
	var name, source, props string
	if err := e.pool.QueryRow(context.Background(), `SELECT e.name, e.source, e.properties::text FROM events e JOIN contacts c ON c.id = e.contact_id
		WHERE e.account_id = $1 AND c.phone = '+14155550177'`, account).Scan(&name, &source, &props); err != nil ||
		name != "cart.abandoned" || source != "console" || props != `{"total": 80}` {
		t.Fatalf("the event: %q %q %q %v", name, source, props, err)
	}
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE account_id = $1 AND action IN ('event.create', 'contact.create')
		AND actor_user_id IS NOT NULL`, account).Scan(&audited)
	if audited != 2 {
		t.Fatalf("%d entries audited as the user's, want 2 (the contact and the event)", audited)
	}
}
