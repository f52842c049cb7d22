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
