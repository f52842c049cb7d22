package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// A broadcast's funnel slices become draft broadcasts to exactly their contacts, frozen when made.
func TestRetarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	account, owner := e.account("acme")
	_, channel := channelFixture(t, e, owner, "100000000000001")
	tpl := e.call(owner, "POST", "/v1/templates", welcomeTemplate()).want(t, http.StatusCreated).num("id")
	b := e.call(owner, "POST", "/v1/broadcasts", map[string]any{"name": "Sale", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"phones": []string{"+14155550100"}}, "draft": true}).want(t, http.StatusCreated).num("id")
	// One contact per outcome: read ×2, read and replied, delivered ×2, failed 131049 (worth a
	// retry), failed 131026 (not on WhatsApp), not_sent.
	contact := map[string]int64{}
	for i, outcome := range []string{"read", "read2", "replied", "delivered", "delivered2", "capped", "not_on_whatsapp", "not_sent"} {
		contact[outcome] = e.call(owner, "POST", "/v1/contacts", map[string]any{"phone": fmt.Sprintf("+1415555%04d", 200+i), "opted_in": true}).
			want(t, http.StatusCreated).num("id")
	}
	insert := func(outcome, status string, code any, replied bool) {
		t.Helper()
		if _, err := e.pool.Exec(context.Background(), `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id,
			status, due_at, error_code, replied_at) VALUES ($1, $2, $3, $4, $5, $6, now(), $7, CASE WHEN $8 THEN now() END)`,
			account, channel, contact[outcome], tpl, b, status, code, replied); err != nil {
			t.Fatal(err)
		}
	}
	insert("read", "read", nil, false)
	insert("read2", "read", nil, false)
	insert("replied", "read", nil, true)
	insert("delivered", "delivered", nil, false)
	insert("delivered2", "delivered", nil, false)
	insert("capped", "failed", 131049, false)
	insert("not_on_whatsapp", "failed", 131026, false)
	insert("not_sent", "not_sent", nil, false)

	retarget := fmt.Sprintf("/v1/broadcasts/%d/retarget", b)
	for slice, want := range map[string][]string{"read_not_replied": {"read", "read2"}, "delivered_not_read": {"delivered", "delivered2"},
		"failed_retryable": {"capped", "not_sent"}} {
		r := e.call(owner, "POST", retarget, map[string]any{"slice": slice}).want(t, http.StatusCreated)
		var audience []int64
		_ = e.pool.QueryRow(context.Background(), `SELECT ARRAY(SELECT jsonb_array_elements_text(audience->'contact_ids')::bigint ORDER BY 1)
			FROM broadcasts WHERE id = $1`, r.num("id")).Scan(&audience)
		var ids []int64
		for _, w := range want {
			ids = append(ids, contact[w])
		}
		slices.Sort(ids)
		if r.Body["status"] != "draft" || r.Body["template_id"] != float64(tpl) || !slices.Equal(audience, ids) {
			t.Errorf("%s: %s, audience %v, want %v", slice, r.Raw, audience, ids)
		}
	}
	// Frozen: a later read does not join the draft made before it.
	r := e.call(owner, "POST", retarget, map[string]any{"slice": "read_not_replied", "name": "Nudge", "template_id": tpl}).want(t, http.StatusCreated)
	if _, err := e.pool.Exec(context.Background(), `UPDATE messages SET status = 'read' WHERE contact_id = $1`, contact["delivered"]); err != nil {
		t.Fatal(err)
	}
	if d := e.call(owner, "GET", fmt.Sprintf("/v1/broadcasts/%d", r.num("id")), nil).want(t, http.StatusOK); d.Body["name"] != "Nudge" || d.Body["audience_count"] != float64(2) {
		t.Errorf("the draft drifted or lost its name: %s", d.Raw)
	}

	e.call(owner, "POST", retarget, map[string]any{"slice": "clicked"}).want(t, http.StatusBadRequest)
	e.call(owner, "POST", retarget, map[string]any{"slice": "read_not_replied", "template_id": 999999}).want(t, http.StatusBadRequest)
	empty := e.call(owner, "POST", "/v1/broadcasts", map[string]any{"name": "Quiet", "channel_id": channel, "template_id": tpl,
		"audience": map[string]any{"phones": []string{"+14155550100"}}, "draft": true}).want(t, http.StatusCreated).num("id")
	e.call(owner, "POST", fmt.Sprintf("/v1/broadcasts/%d/retarget", empty), map[string]any{"slice": "read_not_replied"}).want(t, http.StatusConflict)
	e.call(e.key(account, "analyst"), "POST", retarget, map[string]any{"slice": "read_not_replied"}).want(t, http.StatusForbidden)
}
