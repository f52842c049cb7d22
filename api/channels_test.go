package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// channelFixture registers a portfolio and a channel (on the env's metasim, then in Dripcast)
// and returns their ids.
func channelFixture(t *testing.T, e *env, key, phoneNumberID string) (int64, int64) {
	t.Helper()
	e.sim.AddNumber(metasim.Number{PhoneNumberID: phoneNumberID, WABAID: "200000000000001", DisplayNumber: "+1 415 555 0199",
		Token: "EAAG-secret-token"})
	p := e.call(key, "POST", "/v1/portfolios", map[string]any{"name": "Main", "tier": 2000}).want(t, http.StatusCreated)
	c := e.call(key, "POST", "/v1/channels", map[string]any{"portfolio_id": p.num("id"), "name": "Sales",
		"phone_number_id": phoneNumberID, "waba_id": "200000000000001",
		"access_token": "EAAG-secret-token", "app_secret": "app-secret-123"}).want(t, http.StatusCreated)
	return p.num("id"), c.num("id")
}

func TestPortfoliosAndChannels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	portfolio, channel := channelFixture(t, e, key, "100000000000001")

	r := e.call(key, "GET", fmt.Sprintf("/v1/channels/%d", channel), nil).want(t, http.StatusOK)
	if r.Body["display_number"] != "+14155550199" || r.num("throughput_mps") != 80 || r.Body["quality_rating"] != "GREEN" ||
		r.Body["access_token_set"] != true || strings.Contains(string(r.Raw), "EAAG") || strings.Contains(string(r.Raw), "app-secret") {
		t.Fatalf("channel: %s", r.Raw)
	}
	var stored []byte
	if err := e.pool.QueryRow(context.Background(), "SELECT access_token_enc FROM channels WHERE id = $1", channel).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), "EAAG") {
		t.Fatal("the access token is stored in plain text")
	}
	if tok, err := e.api.opts.Secrets.OpenBound(stored, secrets.ChannelToken("100000000000001")); err != nil || tok != "EAAG-secret-token" {
		t.Fatalf("stored token opens to %q, %v", tok, err)
	}
	var audit string
	_ = e.pool.QueryRow(context.Background(), "SELECT after::text FROM audit_log WHERE action = 'channel.create'").Scan(&audit)
	if audit == "" || strings.Contains(audit, "EAAG") || strings.Contains(audit, "app-secret") {
		t.Fatalf("audit entry: %q", audit)
	}

	// throughput_mps is a cap: a standard-level number sends at Meta's 80 however high the cap.
	r = e.call(key, "PATCH", fmt.Sprintf("/v1/channels/%d", channel), map[string]any{"throughput_mps": 1000, "quality_rating": "YELLOW", "status": "paused"}).want(t, 200)
	if r.num("throughput_mps") != 80 || r.num("throughput_cap") != 1000 || r.num("meta_mps") != 80 || r.Body["quality_rating"] != "YELLOW" ||
		r.Body["status"] != "paused" || r.Body["status_reason"] != "set by hand" {
		t.Fatalf("patched: %s", r.Raw)
	}
	if r = e.call(key, "PATCH", fmt.Sprintf("/v1/channels/%d", channel), map[string]any{"throughput_mps": 20}).want(t, 200); r.num("throughput_mps") != 20 {
		t.Fatalf("a cap under Meta's level: %s", r.Raw)
	}
	r = e.call(key, "PUT", fmt.Sprintf("/v1/portfolios/%d", portfolio), map[string]any{"name": "Main", "tier": "unlimited"}).want(t, 200)
	if r.Body["tier"] != "unlimited" {
		t.Fatalf("portfolio: %s", r.Raw)
	}

	// Another account cannot register the same Meta number, even with its token, and learns
	// nothing from the answer: it is the one a token that does not own the number gets.
	_, other := e.account("other")
	p2 := e.call(other, "POST", "/v1/portfolios", map[string]any{"name": "x"}).want(t, 201)
	if p2.num("tier") != 250 {
		t.Fatalf("a new portfolio starts at 250: %s", p2.Raw)
	}
	twice := e.call(other, "POST", "/v1/channels", map[string]any{"portfolio_id": p2.num("id"), "phone_number_id": "100000000000001",
		"waba_id": "200000000000001", "access_token": "EAAG-secret-token", "app_secret": "sec-sec-sec"})
	notOwned := e.call(other, "POST", "/v1/channels", map[string]any{"portfolio_id": p2.num("id"), "phone_number_id": "100000000000009",
		"waba_id": "200000000000001", "access_token": "EAAG-secret-token", "app_secret": "sec-sec-sec"})
	if twice.Status != 422 || twice.errCode() != CodeNotVerified || string(twice.Raw) != string(notOwned.Raw) {
		t.Fatalf("a number registered twice: %d %s; a number not owned: %s", twice.Status, twice.Raw, notOwned.Raw)
	}
	// Nor use this account's portfolio.
	r = e.call(other, "POST", "/v1/channels", map[string]any{"portfolio_id": portfolio, "phone_number_id": "100000000000002",
		"waba_id": "1", "display_number": "+14155550199", "access_token": "tok-tok-tok", "app_secret": "sec-sec-sec"})
	if r.Status != 404 {
		t.Fatalf("another account's portfolio: %d %s", r.Status, r.Raw)
	}

	for _, bad := range []map[string]any{
		{"portfolio_id": portfolio, "phone_number_id": "abc", "waba_id": "1", "display_number": "+14155550199", "access_token": "tok-tok-tok", "app_secret": "sec-sec-sec"},
		{"portfolio_id": portfolio, "phone_number_id": "3", "waba_id": "1", "display_number": "+14155550199", "access_token": "short", "app_secret": "sec-sec-sec"},
		{"portfolio_id": portfolio, "phone_number_id": "3", "waba_id": "1", "display_number": "+14155550199", "access_token": "tok-tok-tok", "app_secret": "sec-sec-sec", "throughput_mps": 5000},
	} {
		if r := e.call(key, "POST", "/v1/channels", bad); r.Status != 400 || r.errCode() != CodeValidation {
			t.Errorf("%v: %d %s", bad, r.Status, r.Raw)
		}
	}
	if r := e.call(key, "POST", "/v1/portfolios", map[string]any{"name": "x", "tier": 1000}); r.Status != 400 || r.errCode() != CodeValidation {
		t.Errorf("tier 1000 (gone since 2025): %d %s", r.Status, r.Raw)
	}
	e.call(key, "DELETE", fmt.Sprintf("/v1/channels/%d", channel), nil).want(t, http.StatusNoContent)
}

// Meta out of reach: the channel cannot be verified now, and the answer says to try again.
func TestChannelVerificationWithMetaDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Meta: whatsapp.NewClient("http://"+testenv.FreeAddr(t), "v23.0", time.Second)})
	_, key := e.account("acme")
	p := e.call(key, "POST", "/v1/portfolios", map[string]any{"name": "Main"}).want(t, http.StatusCreated)
	r := e.call(key, "POST", "/v1/channels", map[string]any{"portfolio_id": p.num("id"), "phone_number_id": "100000000000001",
		"waba_id": "200000000000001", "access_token": "EAAG-secret-token", "app_secret": "app-secret-123"})
	if r.Status != http.StatusServiceUnavailable || r.errCode() != CodeUnavailable {
		t.Fatalf("Meta down: %d %s", r.Status, r.Raw)
	}
}

// Meta's own test business numbers (+1 555 …, no real area code) register like any other.
func TestMetaTestNumberRegisters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	_, key := e.account("acme")
	e.sim.AddNumber(metasim.Number{PhoneNumberID: "100000000000007", WABAID: "200000000000007", DisplayNumber: "+1 555-025-3483",
		Token: "EAAG-test-token"})
	p := e.call(key, "POST", "/v1/portfolios", map[string]any{"name": "Test", "tier": 250}).want(t, http.StatusCreated)
	c := e.call(key, "POST", "/v1/channels", map[string]any{"portfolio_id": p.num("id"), "phone_number_id": "100000000000007",
		"waba_id": "200000000000007", "access_token": "EAAG-test-token", "app_secret": "app-secret-777"}).want(t, http.StatusCreated)
	if c.Body["display_number"] != "+15550253483" {
		t.Fatalf("display number: %v", c.Body["display_number"])
	}
}
