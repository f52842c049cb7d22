package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/queries"
)

// A marketer finds a contact (by number too), edits it (a bad email is refused beside its field;
// attributes keep their types; a removed line removes one), opts it out with a source, and the
// page shows the consent history; an analyst sees the number masked and cannot search by it.
func TestContactPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	ctx := context.Background()
	ct, _, err := contacts.Save(ctx, e.pool, audit.Actor{AccountID: account}, contacts.Input{Phone: "+919876543210", Name: ptr("Asha Rao"),
		Tags: []string{"vip"}, Attributes: map[string]any{"city": "Pune", "orders": 3.0, "zip": "0411"}, OptedIn: ptr(true),
		OptInSource: "website_form"}, "")
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn(account, "marketer")
	for _, q := range []string{"q=asha", "q=98765", "tag=vip", "consent=in", "attr=city&value=Pune"} {
		if _, body := b.do("GET", "/contacts?"+q, nil); !strings.Contains(body, fmt.Sprintf(`href="/contacts/%d"`, ct.ID)) {
			t.Errorf("?%s does not find the contact", q)
		}
	}
	if _, body := b.do("GET", "/contacts?consent=out", nil); strings.Contains(body, fmt.Sprintf(`href="/contacts/%d"`, ct.ID)) {
		t.Error("?consent=out finds an opted-in contact")
	}
	page := fmt.Sprintf("/contacts/%d", ct.ID)
	form := url.Values{"name": {"Asha R."}, "email": {"not an email"}, "tags": {"vip, pune"}, "time_zone": {"Asia/Kolkata"},
		"attributes": {"city = Mumbai\norders = 4\nzip = 0412"}}
	if status, body := b.do("POST", page, form); status != http.StatusBadRequest || !strings.Contains(body, "email") {
		t.Fatalf("a bad email: %d", status)
	}
	form.Set("email", "asha@example.com")
	if status, _ := b.do("POST", page, form); status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	q := queries.New(e.pool)
	got, _ := q.GetContact(ctx, queries.GetContactParams{AccountID: account, ID: ct.ID})
	if got.Name != "Asha R." || got.Email != "asha@example.com" || strings.Join(got.Tags, ",") != "pune,vip" ||
		string(got.Attributes) != `{"zip": "0412", "city": "Mumbai", "orders": 4}` {
		t.Fatalf("saved %q %q %v %s", got.Name, got.Email, got.Tags, got.Attributes)
	}
	form.Set("attributes", "city = Mumbai")
	b.do("POST", page, form)
	got, _ = q.GetContact(ctx, queries.GetContactParams{AccountID: account, ID: ct.ID})
	if string(got.Attributes) != `{"city": "Mumbai"}` {
		t.Fatalf("a removed line left %s", got.Attributes)
	}

	if status, _ := b.do("POST", page+"/consent/opt-out", url.Values{"source": {"api"}}); status != http.StatusBadRequest {
		t.Fatalf("a source a person cannot claim: %d", status)
	}
	if status, _ := b.do("POST", page+"/consent/opt-out", url.Values{"source": {"customer_request"}}); status != http.StatusSeeOther {
		t.Fatalf("opt out: %d", status)
	}
	_, body := b.do("GET", page, nil)
	if !strings.Contains(body, "customer_request") || !strings.Contains(body, "user:") || !strings.Contains(body, "919876543210") {
		t.Fatalf("the page lacks the consent change or the number:\n%.2000s", body)
	}
	var audited int
	_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE account_id = $1 AND target_id = $2
		AND action IN ('contact.update', 'contact.opt_out') AND actor_user_id IS NOT NULL`, account, ct.ID).Scan(&audited)
	if audited != 3 {
		t.Fatalf("%d audit entries by the user, want 3", audited)
	}

	analyst := e.signIn(account, "analyst")
	if _, body := analyst.do("GET", page, nil); strings.Contains(body, "919876543210") || strings.Contains(body, `id="contact-edit"`) {
		t.Fatal("an analyst sees the number in clear, or the edit form")
	}
	if _, body := analyst.do("GET", "/contacts?q=98765", nil); !strings.Contains(body, "cannot search by phone") ||
		strings.Contains(body, fmt.Sprintf(`href="/contacts/%d"`, ct.ID)) {
		t.Fatal("an analyst searched by number")
	}
	if status, _ := b.do("POST", page+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	if status, _ := b.do("GET", page, nil); status != http.StatusNotFound {
		t.Fatalf("a deleted contact's page: %d", status)
	}
}

// A marketer adds a contact by hand, with consent and its source; a number already known updates
// that contact, as the API does; a bad number comes back beside its field.
func TestNewContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	b := e.signIn(account, "marketer")
	form := url.Values{"phone": {"98765 43210"}, "default_country": {"in"}, "name": {"Asha"}, "tags": {"vip, pune"},
		"attributes": {"city = Pune\nvisits = 3"}, "opted_in": {"on"}, "source": {"website_form"}}
	bad := url.Values{"phone": {"12"}, "name": {"Nobody"}}
	if status, body := b.do("POST", "/contacts/new", bad); status != http.StatusBadRequest || !strings.Contains(body, `value="Nobody"`) {
		t.Fatalf("a bad number: %d", status)
	}
	if status, _ := b.do("POST", "/contacts/new", form); status != http.StatusSeeOther {
		t.Fatalf("add: %d", status)
	}
	var name, source string
	var tags []string
	var attrs map[string]any
	var optedIn bool
	err := e.pool.QueryRow(context.Background(), `SELECT c.name, c.tags, c.attributes, c.opted_in, e.source FROM contacts c
		JOIN consent_events e ON e.contact_id = c.id WHERE c.account_id = $1 AND c.phone = '+919876543210'`, account).
		Scan(&name, &tags, &attrs, &optedIn, &source)
	if err != nil || name != "Asha" || len(tags) != 2 || attrs["visits"] != float64(3) || !optedIn || source != "website_form" {
		t.Fatalf("added: %q %v %v %v %q, %v", name, tags, attrs, optedIn, source, err)
	}
	form.Set("name", "Asha Rao")
	form.Del("opted_in")
	status, _ := b.do("POST", "/contacts/new", form)
	var n int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE account_id = $1 AND name = 'Asha Rao'`, account).Scan(&n)
	if status != http.StatusSeeOther || n != 1 {
		t.Fatalf("the same number again: %d, %d contacts renamed", status, n)
	}
}

// An admin downloads a person's data and erases it from the contact's page; a marketer can do
// neither; a second erasure is refused.
func TestEraseAndExportAPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	ct, _, err := contacts.Save(context.Background(), e.pool, audit.Actor{AccountID: account}, contacts.Input{Phone: "+14155550111",
		Name: ptr("Ana"), OptedIn: ptr(true), OptInSource: "website_form"}, "")
	if err != nil {
		t.Fatal(err)
	}
	page, export, erase := fmt.Sprintf("/contacts/%d", ct.ID), fmt.Sprintf("/contacts/%d/export", ct.ID), fmt.Sprintf("/contacts/%d/erase", ct.ID)
	marketer, admin := e.signIn(account, "marketer"), e.signIn(account, "admin")
	if _, body := marketer.do("GET", page, nil); strings.Contains(body, `id="personal-data"`) {
		t.Fatal("a marketer is offered the person's export and erasure")
	}
	for _, path := range []string{export, erase} {
		if status, _ := marketer.do("POST", path, nil); status != http.StatusForbidden {
			t.Fatalf("a marketer's %s: %d", path, status)
		}
	}
	if _, body := admin.do("GET", page, nil); !strings.Contains(body, `id="erase-person"`) {
		t.Fatal("the admin is offered no erasure")
	}
	if status, body := admin.do("POST", export, nil); status != http.StatusOK || !strings.Contains(body, "+14155550111") || !strings.Contains(body, "Ana") {
		t.Fatalf("the export: %d %.200s", status, body)
	}
	if status, _ := admin.do("POST", erase, nil); status != http.StatusSeeOther {
		t.Fatalf("erase: %d", status)
	}
	if _, body := admin.do("GET", page+"?saved=erased", nil); !strings.Contains(body, `id="saved-erased"`) || strings.Contains(body, "+14155550111") {
		t.Fatal("the page after the erasure still shows the number, or no confirmation")
	}
	if status, _ := admin.do("POST", erase, nil); status != http.StatusConflict {
		t.Fatalf("a second erasure: %d", status)
	}
}
