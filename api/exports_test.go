package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// With the account's approval of bulk exports on, a marketer's recipients CSV is a request that
// an admin approves; the download then works once, for the marketer only, within the hour. Nobody
// approves their own request, the rule is the owner's to change, and every step is audited.
func TestExportsNeedApproval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	account, owner := e.account("acme")
	marketer, other, analyst := e.key(account, "marketer"), e.key(account, "marketer"), e.key(account, "analyst")
	admin, admin2 := e.key(account, "admin"), e.key(account, "admin")
	_, b := recipientFixture(t, e, account, owner)
	csv := fmt.Sprintf("/v1/broadcasts/%d/recipients?format=csv", b)
	e.call(marketer, "GET", csv, nil).want(t, http.StatusOK) // no rule yet

	e.call(admin, "PUT", "/v1/account/export-approval", map[string]any{"required": true}).want(t, http.StatusForbidden)
	e.call(owner, "PUT", "/v1/account/export-approval", map[string]any{}).want(t, http.StatusBadRequest)
	e.call(owner, "PUT", "/v1/account/export-approval", map[string]any{"required": true}).want(t, http.StatusOK)
	if r := e.call(admin, "GET", "/v1/account/export-approval", nil).want(t, http.StatusOK); r.Body["required"] != true {
		t.Fatalf("the rule: %s", r.Raw)
	}
	if r := e.call(marketer, "GET", csv, nil); r.Status != http.StatusForbidden || r.errCode() != "approval_required" {
		t.Fatalf("a marketer's direct CSV under the rule: %d %s", r.Status, r.Raw)
	}
	e.call(owner, "GET", csv, nil).want(t, http.StatusOK) // owners export directly

	ask := func(key string, body map[string]any) response {
		t.Helper()
		return e.call(key, "POST", "/v1/exports", body)
	}
	req := ask(marketer, map[string]any{"kind": "recipients", "broadcast_id": b}).want(t, http.StatusCreated)
	id := req.num("id")
	if req.Body["status"] != "pending" || req.Body["download_url"] != nil {
		t.Fatalf("a marketer's request: %s", req.Raw)
	}
	download := fmt.Sprintf("/v1/exports/%d/download", id)
	if r := e.call(marketer, "GET", download, nil); r.Status != http.StatusConflict {
		t.Fatalf("a pending download: %d %s", r.Status, r.Raw)
	}
	e.call(marketer, "POST", fmt.Sprintf("/v1/exports/%d/approve", id), nil).want(t, http.StatusForbidden)
	e.call(other, "GET", fmt.Sprintf("/v1/exports/%d", id), nil).want(t, http.StatusNotFound)
	approved := e.call(admin, "POST", fmt.Sprintf("/v1/exports/%d/approve", id), nil).want(t, http.StatusOK)
	if exp, _ := time.Parse(time.RFC3339, approved.Body["expires_at"].(string)); approved.Body["status"] != "approved" || time.Until(exp) < 59*time.Minute || time.Until(exp) > time.Hour {
		t.Fatalf("approved: %s", approved.Raw)
	}
	e.call(admin2, "POST", fmt.Sprintf("/v1/exports/%d/reject", id), nil).want(t, http.StatusConflict) // decided already
	if r := e.call(marketer, "GET", fmt.Sprintf("/v1/exports/%d", id), nil).want(t, http.StatusOK); r.Body["download_url"] != download {
		t.Fatalf("the requester's view: %s", r.Raw)
	}
	if r := e.call(other, "GET", download, nil); r.Status != http.StatusForbidden {
		t.Fatalf("another marketer's download: %d %s", r.Status, r.Raw)
	}
	if r := e.call(marketer, "GET", download, nil).want(t, http.StatusOK); !strings.Contains(string(r.Raw), "+919876543210") {
		t.Fatalf("the download: %s", r.Raw)
	}
	if r := e.call(marketer, "GET", download, nil); r.Status != http.StatusGone || r.errCode() != "gone" {
		t.Fatalf("a second download: %d %s", r.Status, r.Raw)
	}

	// Expired an hour after the approval; rejected; nobody approves their own.
	late := ask(marketer, map[string]any{"kind": "recipients", "broadcast_id": b, "status": "pending"}).want(t, http.StatusCreated).num("id")
	e.call(admin, "POST", fmt.Sprintf("/v1/exports/%d/approve", late), nil).want(t, http.StatusOK)
	if _, err := e.pool.Exec(context.Background(), `UPDATE export_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, late); err != nil {
		t.Fatal(err)
	}
	if r := e.call(marketer, "GET", fmt.Sprintf("/v1/exports/%d", late), nil); r.Body["status"] != "expired" {
		t.Fatalf("an hour after approval: %s", r.Raw)
	}
	e.call(marketer, "GET", fmt.Sprintf("/v1/exports/%d/download", late), nil).want(t, http.StatusGone)
	no := ask(marketer, map[string]any{"kind": "recipients", "broadcast_id": b}).want(t, http.StatusCreated).num("id")
	e.call(admin, "POST", fmt.Sprintf("/v1/exports/%d/reject", no), nil).want(t, http.StatusOK)
	e.call(marketer, "GET", fmt.Sprintf("/v1/exports/%d/download", no), nil).want(t, http.StatusConflict)
	own := ask(admin, map[string]any{"kind": "audit", "audit": map[string]any{"action": "export.approved"}}).want(t, http.StatusCreated).num("id")
	e.call(admin, "POST", fmt.Sprintf("/v1/exports/%d/approve", own), nil).want(t, http.StatusConflict)
	e.call(admin2, "POST", fmt.Sprintf("/v1/exports/%d/approve", own), nil).want(t, http.StatusOK)
	if r := e.call(admin, "GET", fmt.Sprintf("/v1/exports/%d/download", own), nil).want(t, http.StatusOK); strings.Count(string(r.Raw), ",export.approved,export,") != 3 {
		t.Fatalf("the audit CSV of the approvals: %s", r.Raw)
	}

	// What may not be asked for; the lists; another account's requests.
	for _, bad := range []map[string]any{{"kind": "contacts"}, {"kind": "recipients", "broadcast_id": 999999},
		{"kind": "recipients", "broadcast_id": b, "status": "lost"}} {
		ask(marketer, bad).want(t, http.StatusBadRequest)
	}
	ask(admin, map[string]any{"kind": "audit", "broadcast_id": b}).want(t, http.StatusBadRequest)
	if r := ask(analyst, map[string]any{"kind": "audit"}); r.Status != http.StatusForbidden {
		t.Fatalf("an analyst's audit export: %d %s", r.Status, r.Raw)
	}
	if r := e.call(marketer, "GET", "/v1/exports", nil).want(t, http.StatusOK); len(r.Body["data"].([]any)) != 3 {
		t.Fatalf("the marketer's requests: %s", r.Raw)
	}
	if r := e.call(admin, "GET", "/v1/exports", nil).want(t, http.StatusOK); len(r.Body["data"].([]any)) != 4 {
		t.Fatalf("every request, to an admin: %s", r.Raw)
	}
	_, stranger := e.account("other")
	e.call(stranger, "POST", fmt.Sprintf("/v1/exports/%d/approve", no), nil).want(t, http.StatusNotFound)
	e.call(stranger, "GET", fmt.Sprintf("/v1/exports/%d", id), nil).want(t, http.StatusNotFound)
	var audited int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(DISTINCT action) FROM audit_log WHERE account_id = $1 AND action IN
		('account.exports_need_approval', 'export.requested', 'export.approved', 'export.rejected', 'export.downloaded')`, account).Scan(&audited)
	if audited != 5 {
		t.Fatalf("%d of the 5 steps audited", audited)
	}
}
