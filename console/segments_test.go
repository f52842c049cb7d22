package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/segment"
)

// A marketer builds a segment with a nested group: buttons add and remove rules, the count
// matches what the API's preview counts for the saved rules, and a bad value is refused; an
// analyst cannot count by phone.
func TestSegmentBuilder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	ctx := context.Background()
	for i, c := range []struct{ tag, city string }{{"vip", "Pune"}, {"vip", "Mumbai"}, {"vip", "Delhi"}, {"new", "Pune"}} {
		if _, _, err := contacts.Save(ctx, e.pool, audit.Actor{AccountID: account}, contacts.Input{Phone: fmt.Sprintf("+1415555010%d", i),
			Name: ptr(fmt.Sprint("C", i)), Tags: []string{c.tag}, Attributes: map[string]any{"city": c.city}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	b := e.signIn(account, "marketer")
	form := url.Values{"name": {"VIP in Pune or Mumbai"}, "r.kind": {"all"},
		"r.0.kind": {"cond"}, "r.0.field": {"tags"}, "r.0.op": {"contains"}, "r.0.value": {"vip"},
		"r.1.kind": {"any"}, "r.1.0.kind": {"cond"}, "r.1.0.field": {"attribute"}, "r.1.0.attr": {"city"}, "r.1.0.op": {"eq"}, "r.1.0.value": {"Pune"}}

	// "+ condition" in the inner group adds r.1.1; a count shows on the page.
	form.Set("act", "add-cond:r.1")
	status, body := b.do("POST", "/segments/new", form)
	if status != http.StatusOK || !strings.Contains(body, `name="r.1.1.kind"`) || !strings.Contains(body, `id="segment-count"`) {
		t.Fatalf("add a condition: %d", status)
	}
	form.Del("act")
	form.Set("r.1.1.kind", "cond")
	form.Set("r.1.1.field", "attribute")
	form.Set("r.1.1.attr", "city")
	form.Set("r.1.1.op", "eq")
	form.Set("r.1.1.value", "Mumbai")
	if _, part := b.do("GET", "/segments/count?"+form.Encode(), nil); !strings.Contains(part, "<strong>2</strong> contacts match") {
		t.Fatalf("the live count: %s", part)
	}
	status, _ = b.do("POST", "/segments/new", form)
	if status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	var id int64
	var rules []byte
	_ = e.pool.QueryRow(ctx, `SELECT id, rules FROM segments WHERE account_id = $1`, account).Scan(&id, &rules)
	rule, err := segment.Parse(rules)
	if err != nil {
		t.Fatal(err)
	}
	n, err := segment.Count(ctx, e.pool, account, &rule) // what GET /v1/segments/{id}/preview counts
	if err != nil || n != 2 {
		t.Fatalf("the saved rules match %d: %s %v", n, rules, err)
	}
	_, page := b.do("GET", fmt.Sprintf("/segments/%d", id), nil)
	if !strings.Contains(page, `value="Mumbai"`) || !strings.Contains(page, "<strong>2</strong> contacts match") {
		t.Fatal("the saved segment does not show its rules and count")
	}

	// Remove the inner group's first condition: only Mumbai is left.
	form.Set("act", "remove:r.1.0")
	_, body = b.do("POST", fmt.Sprintf("/segments/%d", id), form)
	if strings.Contains(body, `value="Pune"`) || !strings.Contains(body, `name="r.1.0.value" value="Mumbai"`) {
		t.Fatalf("after removing: %.2000s", regexp.MustCompile(`(?s)<div id="rules">.*`).FindString(body))
	}
	bad := url.Values{"name": {"Recent"}, "r.kind": {"all"}, "r.0.kind": {"cond"}, "r.0.field": {"created_at"}, "r.0.op": {"within"}, "r.0.value": {"soon"}}
	if status, body := b.do("POST", "/segments/new", bad); status != http.StatusBadRequest || !strings.Contains(body, "give a number") {
		t.Fatalf("a bad value: %d", status)
	}
	byPhone := url.Values{"r.kind": {"all"}, "r.0.kind": {"cond"}, "r.0.field": {"phone"}, "r.0.op": {"contains"}, "r.0.value": {"1415"}}
	if _, part := e.signIn(account, "analyst").do("GET", "/segments/count?"+byPhone.Encode(), nil); !strings.Contains(part, "cannot count by phone") {
		t.Fatalf("an analyst counted by phone: %s", part)
	}
}
