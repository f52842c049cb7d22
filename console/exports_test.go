package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// With the owner's approval rule on, a marketer's recipients CSV and an admin's audit CSV are
// requests on the Exports page: another owner or admin approves them, and the requester
// downloads once.
func TestExportsWaitForApproval(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	b := e.broadcastOf(account)
	owner, admin, marketer := e.signIn(account, "owner"), e.signIn(account, "admin"), e.signIn(account, "marketer")
	csv := fmt.Sprintf("/broadcasts/%d/recipients.csv", b)
	if status, _ := marketer.do("GET", csv, nil); status != http.StatusOK {
		t.Fatalf("a marketer's CSV without the rule: %d", status)
	}
	if status, _ := admin.do("POST", "/settings/exports", url.Values{"required": {"on"}}); status != http.StatusForbidden {
		t.Fatalf("an admin sets the rule: %d", status)
	}
	if status, _ := owner.do("POST", "/settings/exports", url.Values{"required": {"on"}}); status != http.StatusSeeOther {
		t.Fatalf("the owner sets the rule: %d", status)
	}
	if _, body := owner.do("GET", "/settings", nil); !strings.Contains(body, `id="export-approval" checked`) {
		t.Fatal("the settings page does not show the rule on")
	}

	if _, body := marketer.do("GET", fmt.Sprintf("/broadcasts/%d/report", b), nil); !strings.Contains(body, `id="csv-request"`) || strings.Contains(body, `id="csv"`) {
		t.Fatal("the report offers a marketer the direct download under the rule")
	}
	if status, body := marketer.do("GET", csv, nil); status != http.StatusForbidden || !strings.Contains(body, "approval") {
		t.Fatalf("a marketer's direct CSV under the rule: %d", status)
	}
	if status, _ := marketer.do("POST", "/exports", url.Values{"kind": {"recipients"}, "broadcast_id": {fmt.Sprint(b)}}); status != http.StatusSeeOther {
		t.Fatalf("request the CSV: %d", status)
	}
	var id int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM export_requests WHERE account_id = $1`, account).Scan(&id)
	approve := fmt.Sprintf("/exports/%d/approve", id)
	if _, body := marketer.do("GET", "/exports", nil); !strings.Contains(body, "pending") || strings.Contains(body, approve) {
		t.Fatal("the marketer's exports page: no pending request, or an approve button")
	}
	if status, _ := marketer.do("POST", approve, nil); status != http.StatusForbidden {
		t.Fatalf("a marketer approves: %d", status)
	}
	if _, body := admin.do("GET", "/exports", nil); !strings.Contains(body, approve) {
		t.Fatal("the admin's exports page has no approve button")
	}
	if status, _ := admin.do("POST", approve, nil); status != http.StatusSeeOther {
		t.Fatalf("the admin approves: %d", status)
	}
	download := fmt.Sprintf("/exports/%d/download", id)
	if _, body := marketer.do("GET", "/exports", nil); !strings.Contains(body, download) {
		t.Fatal("no download link for the approved request")
	}
	if status, _ := admin.do("GET", download, nil); status != http.StatusForbidden {
		t.Fatalf("the approver downloads the marketer's export: %d", status)
	}
	if status, body := marketer.do("GET", download, nil); status != http.StatusOK || !strings.HasPrefix(body, "phone,name,status") {
		t.Fatalf("the download: %d %.80s", status, body)
	}
	if status, _ := marketer.do("GET", download, nil); status != http.StatusGone {
		t.Fatalf("a second download: %d", status)
	}

	// The audit log: an admin requests (the owner downloads directly), nobody approves their own.
	if _, body := admin.do("GET", "/audit", nil); !strings.Contains(body, `id="audit-request"`) {
		t.Fatal("the audit page offers an admin the direct download under the rule")
	}
	if _, body := owner.do("GET", "/audit", nil); !strings.Contains(body, `id="audit-export"`) {
		t.Fatal("the audit page offers the owner no download")
	}
	if status, _ := admin.do("POST", "/exports?what=export", url.Values{"kind": {"audit"}}); status != http.StatusSeeOther {
		t.Fatalf("request the audit CSV: %d", status)
	}
	_ = e.pool.QueryRow(context.Background(), `SELECT max(id) FROM export_requests WHERE account_id = $1`, account).Scan(&id)
	if status, _ := admin.do("POST", fmt.Sprintf("/exports/%d/approve", id), nil); status != http.StatusConflict {
		t.Fatalf("an admin approves their own request: %d", status)
	}
	if status, _ := owner.do("POST", fmt.Sprintf("/exports/%d/approve", id), nil); status != http.StatusSeeOther {
		t.Fatalf("the owner approves: %d", status)
	}
	if status, body := admin.do("GET", fmt.Sprintf("/exports/%d/download", id), nil); status != http.StatusOK || !strings.Contains(body, "export.approved") {
		t.Fatalf("the audit download: %d %.200s", status, body)
	}
}
