package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// An admin makes a generic integration (a missing path is refused beside its field), sees its
// address and its secret once, and edits its mapping; Shopify's needs Shopify's secret; a
// marketer sees the page but not the form.
func TestIntegrationPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	admin := e.signIn(account, "admin")
	form := url.Values{"name": {"Store events"}, "kind": {"generic"}, "phone": {""}, "event_name": {"order.placed"},
		"attributes": {"city = shipping.city"}}
	if status, body := admin.do("POST", "/integrations/new", form); status != http.StatusBadRequest || !strings.Contains(body, "phone") {
		t.Fatalf("no phone path: %d", status)
	}
	form.Set("phone", "customer.phone")
	status, body := admin.do("POST", "/integrations/new", form)
	secret := regexp.MustCompile(`id="hook-secret"[^>]*value="(whsec_[^"]+)"`).FindStringSubmatch(body)
	hook := regexp.MustCompile(`id="hook-url">([^<]+)<`).FindStringSubmatch(body)
	if status != http.StatusCreated || secret == nil || hook == nil || !strings.Contains(hook[1], "/hooks/") {
		t.Fatalf("made: %d, secret %v, address %v", status, secret, hook)
	}
	var id int64
	var mapping string
	_ = e.pool.QueryRow(context.Background(), `SELECT id, mapping::text FROM integrations WHERE account_id = $1`, account).Scan(&id, &mapping)
	if !strings.Contains(mapping, `"city": "shipping.city"`) || !strings.Contains(mapping, `"phone": "customer.phone"`) {
		t.Fatalf("stored mapping %s", mapping)
	}
	page := fmt.Sprintf("/integrations/%d", id)
	if _, body := admin.do("GET", page, nil); strings.Contains(body, secret[1]) {
		t.Fatal("the secret shows a second time")
	}
	form.Set("event_name", "")
	form.Set("event", "topic")
	if status, _ := admin.do("POST", page, form); status != http.StatusSeeOther {
		t.Fatalf("edit: %d", status)
	}
	_ = e.pool.QueryRow(context.Background(), `SELECT mapping::text FROM integrations WHERE id = $1`, id).Scan(&mapping)
	if !strings.Contains(mapping, `"event": "topic"`) {
		t.Fatalf("edited mapping %s", mapping)
	}
	shopify := url.Values{"name": {"Shop"}, "kind": {"shopify"}}
	if status, body := admin.do("POST", "/integrations/new", shopify); status != http.StatusBadRequest || !strings.Contains(body, "Shopify shows") {
		t.Fatalf("Shopify without its secret: %d", status)
	}
	marketer := e.signIn(account, "marketer")
	if status, body := marketer.do("GET", page, nil); status != http.StatusOK || strings.Contains(body, `id="integration-edit"`) {
		t.Fatalf("a marketer's view: %d", status)
	}
	if status, _ := admin.do("POST", page+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
}
