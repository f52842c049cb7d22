package console

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/queries"
)

// An owner makes a key (its secret shown once, only a hash kept), revokes it, and cannot revoke
// the account's last owner key; the audit log shows each change, filtered by who, and downloads
// as CSV (the download itself audited).
func TestKeysAndAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	b := e.signIn(account, "owner")
	ctx := context.Background()

	status, body := b.do("POST", "/keys", url.Values{"name": {"shop"}, "role": {"integration"}, "last_day": {"2099-12-31"}})
	secret := regexp.MustCompile(`value="(dc_[0-9a-f]{12}_[A-Za-z0-9_-]{43})"`).FindStringSubmatch(body)
	if status != http.StatusCreated || secret == nil {
		t.Fatalf("make a key: %d %.400s", status, body)
	}
	prefix, rest, _ := apikey.Parse(secret[1])
	stored, err := queries.New(e.pool).GetAPIKeyByPrefix(ctx, prefix)
	if err != nil || !apikey.Matches(rest, stored.SecretHash) || stored.AccountID != account || stored.ExpiresAt == nil {
		t.Fatalf("stored key %+v: %v", stored, err)
	}
	if _, again := b.do("GET", "/keys", nil); strings.Contains(again, rest) {
		t.Fatal("the key's secret shows a second time")
	}
	if status, body := b.do("POST", "/keys", url.Values{"name": {" "}, "role": {"root"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "is required, at most 200 characters") {
		t.Fatalf("a bad key: %d", status)
	}
	if status, _ := b.do("POST", fmt.Sprintf("/keys/%d/revoke", stored.ID), nil); status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", status)
	}
	if status, body := b.do("POST", fmt.Sprintf("/keys/%d/revoke", stored.ID), nil); status != http.StatusConflict ||
		!strings.Contains(body, "revoked already") {
		t.Fatalf("revoke twice: %d", status)
	}
	owner, err := apikey.Create(ctx, e.pool, audit.Actor{AccountID: account}, apikey.Input{Name: "admin tool", Role: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := b.do("POST", fmt.Sprintf("/keys/%d/revoke", owner.ID), nil); status != http.StatusConflict ||
		!strings.Contains(body, "last owner key") {
		t.Fatalf("revoke the last owner key: %d", status)
	}

	_, page := b.do("GET", "/audit", nil)
	for _, action := range []string{"api_key.create", "api_key.revoke"} {
		if !strings.Contains(page, `data-action="`+action+`"`) {
			t.Errorf("the audit log lacks %s", action)
		}
	}
	if _, page := b.do("GET", "/audit?who=key:999", nil); strings.Contains(page, `data-action="api_key.create"`) {
		t.Error("the filter by who shows another's changes")
	}
	if status, _ := b.do("GET", "/audit?from=yesterday", nil); status != http.StatusOK {
		t.Errorf("a bad date: %d", status)
	}
	status, raw := b.do("GET", "/audit.csv?what=api_key", nil)
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if status != http.StatusOK || err != nil || len(rows) != 4 || rows[0][0] != "at" { // header, two creations, one revocation
		t.Fatalf("export: %d %v %q", status, err, rows)
	}
	var exports int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE account_id = $1 AND action = 'audit_log.export'`, account).Scan(&exports)
	if exports != 1 {
		t.Fatalf("%d export entries", exports)
	}
}

// An admin saves the sending settings (a bad percentage is refused beside its field); an owner
// sets the allowed addresses, and a list without their own address is refused.
func TestSettingsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	admin := e.signIn(account, "admin")
	form := url.Values{"cap_max": {"2"}, "cap_days": {"7"}, "failure": {"150"}, "optout": {"5"}, "yellow": {""}, "keywords": {"stop, band karo"}}
	if status, body := admin.do("POST", "/settings/sending", form); status != http.StatusBadRequest || !strings.Contains(body, "a percentage") {
		t.Fatalf("150 %%: %d", status)
	}
	form.Set("failure", "20")
	form.Set("win_start", "21:00")
	form.Set("win_end", "09:00")
	if status, body := admin.do("POST", "/settings/sending", form); status != http.StatusBadRequest || !strings.Contains(body, "start before end") {
		t.Fatalf("quiet hours that end before they start: %d", status)
	}
	form.Set("win_start", "09:00")
	form.Set("win_end", "20:00")
	form["win_days"] = []string{"mon", "sat"}
	form.Set("content_days", "0")
	if status, body := admin.do("POST", "/settings/sending", form); status != http.StatusBadRequest || !strings.Contains(body, "3650 days") {
		t.Fatalf("content kept 0 days: %d", status)
	}
	form.Set("content_days", "30")
	// The default retry policy, set through the API, is not on the form: saving keeps it.
	if _, err := e.pool.Exec(context.Background(), `UPDATE accounts SET settings = '{"retry": {"mode": "smart", "days": 4}}' WHERE id = $1`, account); err != nil {
		t.Fatal(err)
	}
	if status, _ := admin.do("POST", "/settings/sending", form); status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	var settings string
	_ = e.pool.QueryRow(context.Background(), `SELECT settings::text FROM accounts WHERE id = $1`, account).Scan(&settings)
	for _, want := range []string{`"frequency_cap": {"max": 2, "days": 7}`, `"auto_pause_failure_rate": 0.2`, `"auto_pause_opt_out_rate": 0.05`,
		`"opt_out_keywords": ["STOP", "BAND KARO"]`, `"send_window": {"end": "20:00", "days": ["mon", "sat"], "start": "09:00"}`,
		`"retention": {"content_days": 30}`, `"retry": {"days": 4, "mode": "smart"}`} {
		if !strings.Contains(settings, want) {
			t.Errorf("settings %s lack %s", settings, want)
		}
	}
	if _, body := admin.do("GET", "/settings", nil); !strings.Contains(body, `value="20"`) || strings.Contains(body, `id="ips-form"`) ||
		!strings.Contains(body, `value="sat" checked`) {
		t.Error("the page does not show the saved share, or shows an admin the address form")
	}
	if status, _ := admin.do("POST", "/settings/allowed-ips", url.Values{"allowed_ips": {"10.0.0.0/8"}}); status != http.StatusForbidden {
		t.Fatalf("an admin sets addresses: %d", status)
	}

	owner := e.signIn(account, "owner")
	if status, body := owner.do("POST", "/settings/allowed-ips", url.Values{"allowed_ips": {"10.0.0.0/8"}}); status != http.StatusConflict ||
		!strings.Contains(body, "lock yourself out") {
		t.Fatalf("a list without the owner's address: %d", status)
	}
	if status, _ := owner.do("POST", "/settings/allowed-ips", url.Values{"allowed_ips": {"not an address"}}); status != http.StatusBadRequest {
		t.Fatalf("a bad address: %d", status)
	}
	if status, _ := owner.do("POST", "/settings/allowed-ips", url.Values{"allowed_ips": {"127.0.0.1\n10.0.0.0/8"}}); status != http.StatusSeeOther {
		t.Fatalf("save addresses: %d", status)
	}
	var n int
	_ = e.pool.QueryRow(context.Background(), `SELECT cardinality(allowed_ips) FROM accounts WHERE id = $1`, account).Scan(&n)
	if n != 2 {
		t.Fatalf("%d addresses stored", n)
	}
}

// An admin types the price list a line each: a bad line is named, the good list is saved and
// shown as typed, and reports price what Meta billed with it.
func TestPricesSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	b := e.signIn(account, "admin")
	status, body := b.do("POST", "/settings/prices", url.Values{"prices": {"marketing IN 0.0107 USD\nutility * cheap USD"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "line 2: ") {
		t.Fatalf("a bad price: %d, no line named", status)
	}
	if status, _ := b.do("POST", "/settings/prices", url.Values{"prices": {"marketing in 0.0107 usd\n\nutility * 0.004 USD"}}); status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	if _, body := b.do("GET", "/settings", nil); !strings.Contains(body, "marketing IN 0.0107 USD\nutility * 0.004 USD") {
		t.Errorf("the prices as stored:\n%.3000s", regexp.MustCompile(`(?s)<textarea id="prices".*?</textarea>`).FindString(body))
	}
	var n int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM prices WHERE account_id = $1`, account).Scan(&n)
	if n != 2 {
		t.Errorf("%d prices stored, want 2", n)
	}
	if status, _ := e.signIn(account, "marketer").do("POST", "/settings/prices", url.Values{"prices": {""}}); status != http.StatusForbidden {
		t.Errorf("a marketer set prices: %d", status)
	}
}
