package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture: an account with a channel (number 1001, WABA 2001), a marketing template, a contact
// and a running broadcast with one message (id returned) that was sent as wamid.A.
func fixture(t *testing.T) (*pgxpool.Pool, int64) {
	t.Helper()
	pool := testenv.DB(t)
	var msg int64
	err := pool.QueryRow(context.Background(), `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'p', 10000 FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		       SELECT account_id, id, '1001', '2001', '+14155550199', '\x00', '\x00' FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components) SELECT account_id, 'promo', 'en', 'marketing', '{}' FROM ch RETURNING id, account_id),
		c AS (INSERT INTO contacts (account_id, phone, opted_in) SELECT account_id, '+14155550100', true FROM ch RETURNING id, account_id),
		b AS (INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience)
		      SELECT ch.account_id, ch.id, t.id, 'b', 'running', '{}' FROM ch, t RETURNING id, account_id, channel_id, template_id)
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, wamid, sent_at)
		SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id, 'sending', now(), NULL, NULL FROM b, c
		RETURNING id`).Scan(&msg)
	if err != nil {
		t.Fatal(err)
	}
	return pool, msg
}

func notification(field string, value any) whatsapp.Notification {
	raw, _ := json.Marshal(value)
	return whatsapp.Notification{Object: "whatsapp_business_account",
		Entry: []whatsapp.Entry{{ID: "2001", Changes: []whatsapp.Change{{Field: field, Value: raw}}}}}
}

func statuses(msg int64, list ...[2]string) whatsapp.Notification {
	var st []whatsapp.Status
	for i, s := range list {
		x := whatsapp.Status{ID: "wamid.A", Status: s[0], Timestamp: fmt.Sprint(1750000000 + i), RecipientID: "14155550100",
			BizOpaqueCallbackData: fmt.Sprint(msg)}
		if s[1] != "" {
			var code int
			fmt.Sscan(s[1], &code)
			x.Errors = []whatsapp.WebhookError{{Code: code}}
		}
		st = append(st, x)
	}
	return notification("messages", whatsapp.MessagesValue{Metadata: whatsapp.Metadata{PhoneNumberID: "1001"}, Statuses: st})
}

// apply signs n with the fixture channel's app secret, authorizes it and applies it.
func apply(t *testing.T, pool *pgxpool.Pool, n whatsapp.Notification) Result {
	t.Helper()
	ctx, q := context.Background(), queries.New(pool)
	body, _ := json.Marshal(n)
	open := func(Channel) (string, error) { return "app-secret", nil } // the fixture's secret is not sealed
	scope, err := Authorize(ctx, q, n, body, whatsapp.Sign(body, "app-secret"), open)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Deliver(ctx, pool, n, scope, time.Now(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Timestamps far from now are not stored as they come.
func TestBelievableTimes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, c := range []struct {
		at, want time.Time
	}{
		{time.Unix(0, 0), now},
		{time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), now},
		{time.Time{}, now},
		{now.Add(-3 * 24 * time.Hour), now.Add(-3 * 24 * time.Hour)}, // Meta redelivers for 7 days
		{now.Add(30 * time.Second), now.Add(30 * time.Second)},       // clocks differ a little
		{now.Add(time.Hour), now},
	} {
		if got := believable(c.at, now); !got.Equal(c.want) {
			t.Errorf("%v: %v, want %v", c.at, got, c.want)
		}
	}
}

func messageState(t *testing.T, pool *pgxpool.Pool, id int64) string {
	t.Helper()
	var status, wamid string
	var sent, delivered, read bool
	var code *int32
	err := pool.QueryRow(context.Background(), `SELECT status::text, COALESCE(wamid, ''), sent_at IS NOT NULL, delivered_at IS NOT NULL,
		read_at IS NOT NULL, error_code FROM messages WHERE id = $1`, id).Scan(&status, &wamid, &sent, &delivered, &read, &code)
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	if code != nil {
		c = int(*code)
	}
	return fmt.Sprintf("%s wamid=%s sent=%t delivered=%t read=%t code=%d", status, wamid, sent, delivered, read, c)
}

// Statuses arrive out of order and twice; a message only moves forward, and a status webhook
// that beats the send's answer (the row still in sending) settles it by the callback id.
func TestStatusesOnlyMoveForward(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	apply(t, pool, statuses(msg, [2]string{"read", ""}))
	apply(t, pool, statuses(msg, [2]string{"delivered", ""}, [2]string{"sent", ""}, [2]string{"sent", ""}))
	apply(t, pool, statuses(msg, [2]string{"failed", "131026"})) // a late failure of another device
	if got := messageState(t, pool, msg); got != "read wamid=wamid.A sent=true delivered=true read=true code=131026" {
		t.Fatalf("after read, then delivered and sent twice, then failed: %s", got)
	}
}

// A status settles an unknown send, and a not_sent one (Meta took it after all), once: the
// delivery counts what it settled.
func TestStatusSettlesUnknownSends(t *testing.T) {
	t.Parallel()
	for _, from := range []string{"unknown", "not_sent"} {
		pool, msg := fixture(t)
		if _, err := pool.Exec(context.Background(), `UPDATE messages SET status = $2::message_status WHERE id = $1`, msg, from); err != nil {
			t.Fatal(err)
		}
		if res := apply(t, pool, statuses(msg, [2]string{"sent", ""})); res.Settled != 1 || res.Updated != 1 {
			t.Fatalf("%s: settled %d, updated %d; want 1 each", from, res.Settled, res.Updated)
		}
		if res := apply(t, pool, statuses(msg, [2]string{"delivered", ""})); res.Settled != 0 {
			t.Fatalf("%s: settled again by a later status", from)
		}
		var settled string
		_ = pool.QueryRow(context.Background(), `SELECT status || '/' || COALESCE(settled::text, '') FROM messages WHERE id = $1`, msg).Scan(&settled)
		if settled != "delivered/webhook" {
			t.Fatalf("%s: %s, want delivered/webhook", from, settled)
		}
	}
	pool, msg := fixture(t) // in sending: nothing to settle
	if res := apply(t, pool, statuses(msg, [2]string{"sent", ""})); res.Settled != 0 {
		t.Fatal("a send in progress counted as settled")
	}
}

func TestFailedAfterSentAndDeliveredAfterFailed(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	apply(t, pool, statuses(msg, [2]string{"sent", ""}, [2]string{"failed", "131047"}))
	if got := messageState(t, pool, msg); got != "failed wamid=wamid.A sent=true delivered=false read=false code=131047" {
		t.Fatalf("sent then failed: %s", got)
	}
	apply(t, pool, statuses(msg, [2]string{"delivered", ""}))
	if got := messageState(t, pool, msg); got[:9] != "delivered" {
		t.Fatalf("delivered after failed: %s", got)
	}
}

// A message its retry policy sent again takes only its current attempt's statuses: an earlier
// attempt's (a duplicate, a delayed one; by its callback, or by its wamid alone) changes nothing,
// even in the same delivery as the current attempt's.
func TestStatusOfAnEarlierAttemptIsIgnored(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	if _, err := pool.Exec(context.Background(), `UPDATE messages SET retries = 1 WHERE id = $1`, msg); err != nil {
		t.Fatal(err)
	}
	attempt := func(callback, wamid, status string) whatsapp.Status {
		return whatsapp.Status{ID: wamid, Status: status, Timestamp: "1750000000", RecipientID: "14155550100", BizOpaqueCallbackData: callback}
	}
	deliver := func(st ...whatsapp.Status) {
		apply(t, pool, notification("messages", whatsapp.MessagesValue{Metadata: whatsapp.Metadata{PhoneNumberID: "1001"}, Statuses: st}))
	}
	deliver(attempt(fmt.Sprint(msg), "wamid.A", "failed"), attempt(fmt.Sprint(msg), "wamid.A", "delivered"))
	if got := messageState(t, pool, msg); got != "sending wamid= sent=false delivered=false read=false code=0" {
		t.Fatalf("after the first attempt's statuses: %s", got)
	}
	deliver(attempt(fmt.Sprint(msg), "wamid.A", "read"), attempt(fmt.Sprintf("%d:1", msg), "wamid.B", "sent"))
	if got := messageState(t, pool, msg); got != "sent wamid=wamid.B sent=true delivered=false read=false code=0" {
		t.Fatalf("after the retry's sent, with a read of the first attempt: %s", got)
	}
	deliver(attempt("", "wamid.A", "delivered"), attempt("", "wamid.B", "read"))
	if got := messageState(t, pool, msg); got != "read wamid=wamid.B sent=true delivered=false read=true code=0" {
		t.Fatalf("after statuses found by wamid: %s", got)
	}
}

func TestStatusOfAnotherNumberIsIgnored(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	n := statuses(msg, [2]string{"read", ""})
	var v whatsapp.MessagesValue
	_ = json.Unmarshal(n.Entry[0].Changes[0].Value, &v)
	v.Metadata.PhoneNumberID = "9999"
	if res := apply(t, pool, notification("messages", v)); res.Updated != 0 {
		t.Fatal("a status for another number changed a message")
	}
	if got := messageState(t, pool, msg); got[:7] != "sending" {
		t.Fatalf("%s", got)
	}
}

// A reply that quotes nothing is charged to the latest message sent to the contact (sqlc once
// read "@at::timestamptz - interval '3 days'" as one parameter, always NULL, and charged none).
func TestReplyWithoutContextIsCharged(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	apply(t, pool, statuses(msg, [2]string{"sent", ""}))
	m := map[string]any{"from": "14155550100", "id": "wamid.IN", "timestamp": "1750000100", "type": "text", "text": map[string]string{"body": "Blue?"}}
	apply(t, pool, notification("messages", map[string]any{"metadata": map[string]string{"phone_number_id": "1001"}, "messages": []any{m}}))
	var replied bool
	_ = pool.QueryRow(context.Background(), "SELECT replied_at IS NOT NULL FROM messages WHERE id = $1", msg).Scan(&replied)
	if !replied {
		t.Fatal("the reply was not charged to the message sent before it")
	}
}

func TestStopReplyOptsOutAndCountsAsReply(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	apply(t, pool, statuses(msg, [2]string{"sent", ""}))
	inbound := func(text, context string) whatsapp.Notification {
		m := map[string]any{"from": "14155550100", "id": "wamid.IN", "timestamp": "1750000100", "type": "text", "text": map[string]string{"body": text}}
		if context != "" {
			m["context"] = map[string]string{"id": context}
		}
		return notification("messages", map[string]any{"metadata": map[string]string{"phone_number_id": "1001"}, "messages": []any{m}})
	}
	res := apply(t, pool, inbound("  stop ", "wamid.A"))
	if res.OptOuts != 1 || res.Inbound != 1 {
		t.Fatalf("result %+v", res)
	}
	var optedIn bool
	var source string
	var replied, inWindow bool
	_ = pool.QueryRow(context.Background(), "SELECT opted_in, opt_in_source, last_inbound_at IS NOT NULL FROM contacts").Scan(&optedIn, &source, &inWindow)
	_ = pool.QueryRow(context.Background(), "SELECT replied_at IS NOT NULL FROM messages WHERE id = $1", msg).Scan(&replied)
	if optedIn || source != "whatsapp_reply" || !replied || !inWindow {
		t.Fatalf("opted in %v (%s), replied %v, window %v", optedIn, source, replied, inWindow)
	}
	var events int
	_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM consent_events WHERE source = 'whatsapp_reply' AND NOT opted_in").Scan(&events)
	if events != 1 {
		t.Fatalf("%d consent events", events)
	}
	var charged bool
	_ = pool.QueryRow(context.Background(), "SELECT opted_out_at IS NOT NULL FROM messages WHERE id = $1", msg).Scan(&charged)
	if !charged {
		t.Fatal("the opt-out was not charged to the message it answered")
	}
	if res := apply(t, pool, inbound("Does it come in blue?", "")); res.OptOuts != 0 {
		t.Fatal("an ordinary reply opted out")
	}
	// An account's own keywords replace the defaults.
	if _, err := pool.Exec(context.Background(), `UPDATE accounts SET settings = '{"opt_out_keywords":["PARAR"]}'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), "UPDATE contacts SET opted_in = true"); err != nil {
		t.Fatal(err)
	}
	if res := apply(t, pool, inbound("stop", "")); res.OptOuts != 0 {
		t.Fatal("STOP opted out an account whose keyword is PARAR")
	}
	if res := apply(t, pool, inbound("Parar", "")); res.OptOuts != 1 {
		t.Fatal("the account's keyword did not opt out")
	}
}

func TestTemplatePauseAndQuality(t *testing.T) {
	t.Parallel()
	pool, _ := fixture(t)
	ctx := context.Background()
	status := func() (string, string) {
		var s, reason string
		_ = pool.QueryRow(ctx, "SELECT status, status_reason FROM broadcasts").Scan(&s, &reason)
		return s, reason
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "PAUSED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if s, reason := status(); s != "paused" || reason != "paused automatically: template paused by Meta" {
		t.Fatalf("after PAUSED: %s %q", s, reason)
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "APPROVED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if s, _ := status(); s != "running" {
		t.Fatalf("after APPROVED: %s", s)
	}
	apply(t, pool, notification("phone_number_quality_update", whatsapp.QualityUpdate{DisplayPhoneNumber: "14155550199", Event: "FLAGGED", MaxDailyConversationsPerBusiness: "TIER_2K"}))
	var quality string
	var tier *int32
	_ = pool.QueryRow(ctx, "SELECT c.quality_rating, p.tier_limit FROM channels c JOIN portfolios p ON p.id = c.portfolio_id").Scan(&quality, &tier)
	if s, reason := status(); s != "paused" || reason != "paused automatically: quality rating RED" || quality != "RED" || tier == nil || *tier != 2000 {
		t.Fatalf("after FLAGGED: %s %q, quality %s, tier %v", s, reason, quality, tier)
	}
	score := func() string {
		var q string
		_ = pool.QueryRow(ctx, "SELECT quality_score FROM templates WHERE name = 'promo'").Scan(&q)
		return q
	}
	if q := score(); q != "UNKNOWN" {
		t.Fatalf("a template Meta has not rated: %s", q)
	}
	apply(t, pool, notification("message_template_quality_update", whatsapp.TemplateQualityUpdate{PreviousQualityScore: "UNKNOWN",
		NewQualityScore: "YELLOW", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if q := score(); q != "YELLOW" {
		t.Fatalf("after the quality update: %s", q)
	}
	apply(t, pool, notification("message_template_quality_update", whatsapp.TemplateQualityUpdate{NewQualityScore: "PURPLE",
		MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if q := score(); q != "YELLOW" {
		t.Fatalf("a score Meta does not send was stored: %s", q)
	}
}

// A sequence sending the template pauses with it (its contacts wait) and resumes when Meta
// approves it again; a reply ends the enrollments of sequences that exit on reply and drops
// their unsent step.
func TestSequencesFollowTemplatesAndReplies(t *testing.T) {
	t.Parallel()
	pool, _ := fixture(t)
	ctx := context.Background()
	var enrollment, step int64
	err := pool.QueryRow(ctx, `
		WITH s AS (INSERT INTO sequences (account_id, channel_id, name, status)
		           SELECT account_id, id, 's', 'active' FROM channels RETURNING id, account_id),
		v AS (INSERT INTO sequence_versions (sequence_id, version, account_id, definition)
		      SELECT s.id, 1, s.account_id, jsonb_build_object('exit', '{"on_reply": true}'::jsonb,
		             'steps', jsonb_build_array(jsonb_build_object('template_id', t.id))) FROM s, templates t RETURNING sequence_id),
		e AS (INSERT INTO enrollments (account_id, sequence_id, version, contact_id, next_run_at)
		      SELECT s.account_id, s.id, 1, c.id, now() + interval '1 hour' FROM s, contacts c RETURNING id, account_id, contact_id)
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, enrollment_id, step, status, due_at)
		SELECT e.account_id, ch.id, e.contact_id, t.id, e.id, 0, 'pending', now() FROM e, channels ch, templates t
		RETURNING enrollment_id, id`).Scan(&enrollment, &step)
	if err != nil {
		t.Fatal(err)
	}
	state := func() string {
		var seq, reason, enr string
		_ = pool.QueryRow(ctx, `SELECT s.status, s.status_reason, e.status FROM sequences s JOIN enrollments e ON e.sequence_id = s.id`).Scan(&seq, &reason, &enr)
		return seq + "/" + enr + " " + reason
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "PAUSED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if got := state(); got != "paused/paused paused automatically: template paused by Meta" {
		t.Fatalf("after PAUSED: %s", got)
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "APPROVED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if got := state(); got != "active/active " {
		t.Fatalf("after APPROVED: %s", got)
	}
	apply(t, pool, notification("messages", whatsapp.MessagesValue{Metadata: whatsapp.Metadata{PhoneNumberID: "1001"},
		Messages: []whatsapp.InboundMessage{{From: "14155550100", ID: "wamid.IN", Timestamp: "1750000000", Type: "text",
			Text: &struct{ Body string }{Body: "tell me more"}}}}))
	var status, reason, msg string
	_ = pool.QueryRow(ctx, `SELECT e.status, e.exit_reason, m.status || ':' || m.reason FROM enrollments e JOIN messages m ON m.enrollment_id = e.id`).
		Scan(&status, &reason, &msg)
	if status != "exited" || reason != "replied" || msg != "skipped:exited" {
		t.Errorf("after a reply: %s %s, step %s", status, reason, msg)
	}
}

// Refusing a forged delivery opens the secrets of the channels it names only, whatever the
// number of channels: the cost of a forgery does not grow with the tenants.
func TestForgeryCostDoesNotGrowWithChannels(t *testing.T) {
	t.Parallel()
	pool, _ := fixture(t)
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		SELECT account_id, id, (5000 + n)::text, (6000 + n)::text, '+1415555' || lpad(n::text, 4, '0'), '\x00', '\x00'
		FROM portfolios, generate_series(1, 50) AS n`); err != nil {
		t.Fatal(err)
	}
	n := statuses(1, [2]string{"read", ""})
	body, _ := json.Marshal(n)
	opened := 0
	open := func(Channel) (string, error) { opened++; return "app-secret", nil }
	_, err := Authorize(context.Background(), queries.New(pool), n, body, whatsapp.Sign(body, "guessed"), open)
	if err != ErrUnauthorized || opened != 1 {
		t.Fatalf("forgery: %v after opening %d secrets of 51 channels", err, opened)
	}
}

// Resuming matches on the pause's cause, not on its wording: Meta approving a template resumes
// what that template's pause paused, never a broadcast paused by hand.
func TestApprovalResumesOnlyWhatTheTemplatePaused(t *testing.T) {
	t.Parallel()
	pool, _ := fixture(t)
	ctx := context.Background()
	state := func() string {
		var s string
		_ = pool.QueryRow(ctx, "SELECT status || ' ' || COALESCE(pause_cause, '-') FROM broadcasts").Scan(&s)
		return s
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "REJECTED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if s := state(); s != "paused template_rejected" {
		t.Fatalf("after REJECTED: %s", s)
	}
	// Reworded by hand, the reason no longer says "template": the cause still resumes it.
	if _, err := pool.Exec(ctx, "UPDATE broadcasts SET status_reason = 'Meta switched it off'"); err != nil {
		t.Fatal(err)
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "APPROVED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if s := state(); s != "running -" {
		t.Fatalf("after APPROVED: %s", s)
	}
	if _, err := pool.Exec(ctx, "UPDATE broadcasts SET status = 'paused', status_reason = 'paused automatically: template paused (by hand)', pause_cause = 'user'"); err != nil {
		t.Fatal(err)
	}
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "APPROVED", MessageTemplateName: "promo", MessageTemplateLanguage: "en"}))
	if s := state(); s != "paused user" {
		t.Fatalf("a pause by hand after APPROVED: %s", s)
	}
}

// Meta's template events, each on the template's history: FLAGGED warns (the template still
// sends) with the date Meta will disable it; REINSTATED resumes what PAUSED paused; DISABLED
// cancels the broadcasts (their unsent messages skipped) and pauses the sequences for good: a
// later approval resumes neither.
func TestTemplateEventsFollowMeta(t *testing.T) {
	t.Parallel()
	pool, _ := fixture(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		WITH s AS (INSERT INTO sequences (account_id, channel_id, name, status)
		           SELECT account_id, id, 's', 'active' FROM channels RETURNING id, account_id)
		INSERT INTO sequence_versions (sequence_id, version, account_id, definition)
		SELECT s.id, 1, s.account_id, jsonb_build_object('steps', jsonb_build_array(jsonb_build_object('template_id', t.id))) FROM s, templates t;
		WITH c AS (INSERT INTO contacts (account_id, phone, opted_in) SELECT account_id, '+14155550101', true FROM channels RETURNING id)
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at)
		SELECT account_id, channel_id, c.id, template_id, broadcasts.id, 'pending', now() FROM broadcasts, c`); err != nil {
		t.Fatal(err)
	}
	event := func(v whatsapp.TemplateStatusUpdate) {
		v.MessageTemplateName, v.MessageTemplateLanguage = "promo", "en"
		apply(t, pool, notification("message_template_status_update", v))
	}
	state := func() string {
		var tpl, b, seq string
		_ = pool.QueryRow(ctx, `SELECT t.status || COALESCE(' flagged until ' || to_char(t.disable_date AT TIME ZONE 'UTC', 'YYYY-MM-DD'), ''),
			b.status || ' ' || COALESCE(b.pause_cause, '-'), s.status || ' ' || COALESCE(s.pause_cause, '-')
			FROM templates t, broadcasts b, sequences s`).Scan(&tpl, &b, &seq)
		return tpl + " / " + b + " / " + seq
	}
	// Meta's documented example gives the date as a string of digits.
	raw, _ := json.Marshal(map[string]any{"event": "FLAGGED", "message_template_name": "promo", "message_template_language": "en",
		"reason": "NONE", "disable_info": map[string]any{"disable_date": "1782864000"}})
	n := notification("message_template_status_update", nil)
	n.Entry[0].Changes[0].Value = raw
	apply(t, pool, n)
	if got := state(); got != "approved flagged until 2026-07-01 / running - / active -" {
		t.Fatalf("after FLAGGED: %s", got)
	}
	event(whatsapp.TemplateStatusUpdate{Event: "PAUSED", Reason: "LOW_QUALITY"})
	if got := state(); got != "paused flagged until 2026-07-01 / paused template_paused / paused template_paused" {
		t.Fatalf("after PAUSED: %s", got)
	}
	event(whatsapp.TemplateStatusUpdate{Event: "REINSTATED"})
	if got := state(); got != "approved / running - / active -" {
		t.Fatalf("after REINSTATED: %s", got)
	}
	event(whatsapp.TemplateStatusUpdate{Event: "DISABLED", DisableInfo: &whatsapp.DisableInfo{DisableDate: 1782950400}})
	if got := state(); got != "disabled / cancelled - / paused template_disabled" {
		t.Fatalf("after DISABLED: %s", got)
	}
	var skipped int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE status = 'skipped' AND reason = 'template_disabled'`).Scan(&skipped)
	if skipped != 1 {
		t.Errorf("unsent messages of the cancelled broadcast skipped: %d, want 1 (the one in sending goes on)", skipped)
	}
	event(whatsapp.TemplateStatusUpdate{Event: "APPROVED"})
	if got := state(); got != "approved / cancelled - / paused template_disabled" {
		t.Fatalf("approved after DISABLED: %s", got)
	}
	rows, _ := pool.Query(ctx, `SELECT event || ':' || detail FROM template_events ORDER BY id`)
	history, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FLAGGED:disable date 2026-07-01", "PAUSED:LOW_QUALITY", "REINSTATED:", "DISABLED:disable date 2026-07-02", "APPROVED:"}
	if !slices.Equal(history, want) {
		t.Errorf("history: %q, want %q", history, want)
	}
}

// One status Postgres refuses (its wamid already another message's) never blocks the delivery:
// it is applied again status by status, the bad one is set aside with its error, and every other
// lands.
func TestPoisonedStatusIsSetAside(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	ctx := context.Background()
	var taken, poisoned int64
	err := pool.QueryRow(ctx, `
		WITH c AS (INSERT INTO contacts (account_id, phone, opted_in) SELECT account_id, p, true FROM channels,
		           unnest(ARRAY['+14155550101', '+14155550102']) AS p RETURNING id, account_id, phone),
		m AS (INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, wamid, sent_at)
		      SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id, 'sent', now(),
		             CASE WHEN c.phone = '+14155550101' THEN 'wamid.TAKEN' END, now() FROM broadcasts b, c RETURNING id, wamid)
		SELECT (SELECT id FROM m WHERE wamid IS NOT NULL), (SELECT id FROM m WHERE wamid IS NULL)`).Scan(&taken, &poisoned)
	if err != nil {
		t.Fatal(err)
	}
	status := func(id int64, wamid, s string) whatsapp.Status {
		return whatsapp.Status{ID: wamid, Status: s, Timestamp: "1750000000", RecipientID: "14155550100", BizOpaqueCallbackData: fmt.Sprint(id)}
	}
	res := apply(t, pool, notification("messages", whatsapp.MessagesValue{Metadata: whatsapp.Metadata{PhoneNumberID: "1001"},
		Statuses: []whatsapp.Status{status(msg, "wamid.A", "delivered"), status(taken, "wamid.TAKEN", "read"),
			status(poisoned, "wamid.TAKEN", "delivered")}}))
	if res.SetAside != 1 || res.Updated != 2 {
		t.Fatalf("result %+v, want 2 updated and 1 set aside", res)
	}
	var states, aside string
	_ = pool.QueryRow(ctx, `SELECT string_agg(status::text || ' ' || COALESCE(wamid, '-'), ', ' ORDER BY id) FROM messages`).Scan(&states)
	if states != "delivered wamid.A, read wamid.TAKEN, sent -" {
		t.Errorf("messages: %s", states)
	}
	_ = pool.QueryRow(ctx, `SELECT batch || ' ' || message_id || ' ' || (payload ->> 'wamid') || ' ' || (error LIKE '%messages_wamid%')
		FROM set_aside`).Scan(&aside)
	if aside != fmt.Sprintf("status %d wamid.TAKEN true", poisoned) {
		t.Errorf("set aside: %q", aside)
	}
}

// Meta's pricing of a message (on its sent and delivered statuses) is kept on it.
func TestPricingIsRecorded(t *testing.T) {
	t.Parallel()
	pool, msg := fixture(t)
	st := statuses(msg, [2]string{"delivered", ""})
	var v whatsapp.MessagesValue
	_ = json.Unmarshal(st.Entry[0].Changes[0].Value, &v)
	v.Statuses[0].Pricing = &whatsapp.Pricing{Billable: true, PricingModel: "PMP", Type: "regular", Category: "MARKETING"}
	apply(t, pool, notification("messages", v))
	var billable bool
	var category string
	_ = pool.QueryRow(context.Background(), `SELECT billable, pricing_category FROM messages WHERE id = $1`, msg).Scan(&billable, &category)
	if !billable || category != "marketing" {
		t.Errorf("pricing: billable %v, category %q", billable, category)
	}
}

// A status update naming a template the account does not have (made in Meta's WhatsApp Manager)
// asks the scheduler to sync the WABA soon.
func TestUnknownTemplateAsksForASync(t *testing.T) {
	t.Parallel()
	pool, _ := fixture(t)
	apply(t, pool, notification("message_template_status_update", whatsapp.TemplateStatusUpdate{Event: "APPROVED",
		MessageTemplateName: "made_on_meta", MessageTemplateLanguage: "en"}))
	var wanted bool
	_ = pool.QueryRow(context.Background(), `SELECT templates_wanted_at IS NOT NULL FROM channels WHERE waba_id = '2001'`).Scan(&wanted)
	if !wanted {
		t.Error("the WABA is not marked for a sync")
	}
}
