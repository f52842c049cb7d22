package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// A marketer edits a scheduled broadcast in the composer (it comes filled in), moves it to a
// later time, renames it and gives it a retry policy (a wrong one is named beside its field),
// then keeps it as a draft; a running one cannot be edited.
func TestEditBroadcast(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	id := e.broadcastOf(account)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `INSERT INTO contacts (account_id, phone, tags, opted_in) VALUES ($1, '+14155550123', '{vip}', true)`, account); err != nil {
		t.Fatal(err)
	}
	b := e.signIn(account, "marketer")
	edit := fmt.Sprintf("/broadcasts/%d/edit", id)
	status, body := b.do("GET", edit, nil)
	if status != http.StatusOK || !strings.Contains(body, `value="Sale"`) || !strings.Contains(body, `name="tag" value="vip"`) {
		t.Fatalf("the edit page: %d", status)
	}
	var channel, tpl int64
	_ = e.pool.QueryRow(ctx, `SELECT channel_id, template_id FROM broadcasts WHERE id = $1`, id).Scan(&channel, &tpl)
	at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	form := url.Values{"name": {"Sale, later"}, "channel_id": {fmt.Sprint(channel)}, "template_id": {fmt.Sprint(tpl)}, "audience": {"tag"},
		"tag": {"vip"}, "when": {"at"}, "send_at": {at.Format("2006-01-02T15:04")}, "window_start": {"10:00"}, "window_end": {"18:00"},
		"window_days": {"mon", "fri"}, "retry_mode": {"smart"}, "retry_days": {"9"}, "do": {"schedule"}}
	if _, body := b.do("POST", edit, form); !strings.Contains(body, "smart retries end 2 to 8 days after the send") {
		t.Fatalf("a smart retry over 9 days was not refused beside its field")
	}
	form.Set("retry_mode", "manual")
	form.Set("retry_hours", "12, 6")
	if status, body := b.do("POST", edit, form); status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", status, body)
	}
	got, _ := queries.New(e.pool).GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: account, ID: id})
	if got.Name != "Sale, later" || got.Status != queries.BroadcastStatusScheduled || got.SendAt == nil || !got.SendAt.Equal(at) ||
		fmt.Sprint(policy.DecodeRetry(got.RetryPolicy)) != "&{manual 0 [12 6]}" {
		t.Fatalf("after the edit: %q %s %v %s", got.Name, got.Status, got.SendAt, got.RetryPolicy)
	}
	_, body = b.do("GET", edit, nil)
	for _, want := range []string{`value="` + at.Format("2006-01-02T15:04") + `"`, `name="window_start" type="time" value="10:00"`, `value="fri" checked`,
		`value="manual" selected`, `name="retry_hours" value="12, 6"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the edit page lacks %s", want)
		}
	}
	form.Set("do", "draft")
	b.do("POST", edit, form)
	if got, _ = queries.New(e.pool).GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: account, ID: id}); got.Status != queries.BroadcastStatusDraft {
		t.Fatalf("saved as a draft: %s", got.Status)
	}
	var audited int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE target_id = $1 AND action = 'broadcast.update' AND actor_user_id IS NOT NULL`, id).Scan(&audited)
	if audited != 2 {
		t.Errorf("%d edits audited as the user's, want 2", audited)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE broadcasts SET status = 'running' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if status, _ := b.do("GET", edit, nil); status != http.StatusConflict {
		t.Fatalf("edit a running broadcast: %d", status)
	}
	if status, _ := b.do("POST", edit, form); status != http.StatusConflict {
		t.Fatalf("save a running broadcast: %d", status)
	}
}

// From the report, an editor makes a draft to one slice of the funnel and lands on its edit page;
// an analyst is offered nothing and refused.
func TestRetargetFromTheReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	id := e.broadcastOf(account)
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at)
		SELECT account_id, channel_id, 7, template_id, id, 'read', now() FROM broadcasts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	report, retarget := fmt.Sprintf("/broadcasts/%d/report", id), fmt.Sprintf("/broadcasts/%d/retarget", id)
	marketer, analyst := e.signIn(account, "marketer"), e.signIn(account, "analyst")
	if _, body := marketer.do("GET", report, nil); !strings.Contains(body, `id="retarget"`) {
		t.Fatal("the report offers a marketer no follow-up")
	}
	if status, _ := marketer.do("POST", retarget, url.Values{"slice": {"delivered_not_read"}}); status != http.StatusConflict {
		t.Fatalf("an empty slice: %d", status)
	}
	req, _ := http.NewRequest("POST", marketer.e.srv.URL+retarget, strings.NewReader(url.Values{"slice": {"read_not_replied"}, "csrf": {marketer.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := marketer.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var draft int64
	_ = e.pool.QueryRow(context.Background(), `SELECT max(id) FROM broadcasts WHERE account_id = $1 AND status = 'draft'`, account).Scan(&draft)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != fmt.Sprintf("/broadcasts/%d/edit", draft) {
		t.Fatalf("retarget: %d to %q (draft %d)", res.StatusCode, res.Header.Get("Location"), draft)
	}
	if _, body := analyst.do("GET", report, nil); strings.Contains(body, `id="retarget"`) {
		t.Fatal("the report offers an analyst a follow-up")
	}
	if status, _ := analyst.do("POST", retarget, url.Values{"slice": {"read_not_replied"}}); status != http.StatusForbidden {
		t.Fatalf("an analyst retargets: %d", status)
	}
}
