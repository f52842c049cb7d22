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
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/templates"
)

// A marketer enters a template by hand: the text first, then a row for each placeholder; the
// template's page shows it filled for a chosen contact; the mapping is edited there; a template a
// contact cannot fill says why.
func TestTemplatePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	b := e.signIn(account, "marketer")
	ctx := context.Background()
	ct, _, err := contacts.Save(ctx, e.pool, audit.Actor{AccountID: account}, contacts.Input{Phone: "+919876543210", Name: ptr("Asha Rao"),
		Attributes: map[string]any{"city": "Pune"}}, "")
	if err != nil {
		t.Fatal(err)
	}

	form := url.Values{"name": {"winter_sale"}, "language": {"en"}, "category": {"marketing"}, "status": {"approved"},
		"body": {"Hi {{1}}, the sale in {{2}} starts today."}, "buttons": {"Stop promotions"}}
	status, body := b.do("POST", "/templates/new", form)
	if status != http.StatusBadRequest || !strings.Contains(body, `name="src.body.1"`) || !strings.Contains(body, `name="src.body.2"`) {
		t.Fatalf("the text alone: %d, no parameter rows", status)
	}
	form.Set("src.body.1", "contact")
	form.Set("val.body.1", "first_name")
	form.Set("fb.body.1", "there")
	form.Set("src.body.2", "attribute")
	form.Set("val.body.2", "city")
	status, _ = b.do("POST", "/templates/new", form)
	if status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	var id int64
	_ = e.pool.QueryRow(ctx, `SELECT id FROM templates WHERE account_id = $1 AND name = 'winter_sale'`, account).Scan(&id)
	page := fmt.Sprintf("/templates/%d", id)
	if _, body := b.do("GET", fmt.Sprintf("%s?contact=%d", page, ct.ID), nil); !strings.Contains(body, "Hi Asha, the sale in Pune starts today.") {
		t.Fatalf("the preview for Asha:\n%.1500s", regexp.MustCompile(`(?s)<main.*`).FindString(body))
	}
	if status, body := b.do("POST", "/templates/new", form); status != http.StatusBadRequest || !strings.Contains(body, "exists") {
		t.Fatalf("the same name twice: %d", status)
	}

	// The city now comes from an attribute Asha lacks, with no fallback: the page says why.
	mapping := url.Values{"src.body.1": {"contact"}, "val.body.1": {"first_name"}, "fb.body.1": {"there"},
		"src.body.2": {"attribute"}, "val.body.2": {"store"}}
	if status, _ := b.do("POST", page+"/mapping", mapping); status != http.StatusSeeOther {
		t.Fatalf("save the mapping: %d", status)
	}
	if _, body := b.do("GET", fmt.Sprintf("%s?contact=%d", page, ct.ID), nil); !strings.Contains(body, `id="render-error"`) {
		t.Fatal("a contact who cannot be filled shows no reason")
	}
	mapping.Set("src.body.2", "sideways")
	if status, _ := b.do("POST", page+"/mapping", mapping); status != http.StatusBadRequest {
		t.Fatalf("a bad source: %d", status)
	}
	stored, _ := queries.New(e.pool).GetTemplate(ctx, queries.GetTemplateParams{AccountID: account, ID: id})
	if !strings.Contains(string(stored.Parameters), `"store"`) {
		t.Fatalf("parameters %s", stored.Parameters)
	}
	// Meta flagged it, after pausing and reinstating it: the page warns and lists what Meta said.
	if _, err := e.pool.Exec(ctx, `WITH f AS (UPDATE templates SET flagged_at = now(), disable_date = '2030-07-01' WHERE id = $1)
		INSERT INTO template_events (account_id, template_id, event, detail, at) VALUES
		($2, $1, 'PAUSED', 'LOW_QUALITY', now() - interval '2 days'), ($2, $1, 'REINSTATED', '', now() - interval '1 day'),
		($2, $1, 'FLAGGED', 'disable date 2030-07-01', now())`, id, account); err != nil {
		t.Fatal(err)
	}
	_, body = b.do("GET", page, nil)
	history := regexp.MustCompile(`(?s)<table id="template-history">.*?</table>`).FindString(body)
	if !strings.Contains(body, `id="template-flagged"`) || !strings.Contains(body, "2030") ||
		!regexp.MustCompile(`(?s)FLAGGED.*REINSTATED.*PAUSED.*LOW_QUALITY`).MatchString(history) {
		t.Fatalf("the flag and the history:\n%.3000s", regexp.MustCompile(`(?s)<main.*`).FindString(body))
	}
	if status, _ := b.do("POST", page+"/delete", nil); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
}

// A hand-entered template's text is edited in the same form, filled in; a placeholder added
// needs its source before it saves; a template with a media header is Meta's to change.
func TestEditTemplateText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	tpl, err := templates.Create(context.Background(), e.pool, audit.Actor{AccountID: account}, templates.Template{Name: "welcome",
		Language: "en", Category: "utility", Status: "approved", Components: templates.Components{Body: templates.Text{Text: "Hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn(account, "marketer")
	edit := fmt.Sprintf("/templates/%d/edit", tpl.ID)
	if status, body := b.do("GET", edit, nil); status != http.StatusOK || !strings.Contains(body, ">Hello</textarea>") {
		t.Fatalf("the edit form: %d", status)
	}
	form := url.Values{"name": {"welcome"}, "language": {"en"}, "category": {"utility"}, "status": {"approved"}, "body": {"Hello {{1}}"}}
	if status, body := b.do("POST", edit, form); status != http.StatusBadRequest || !strings.Contains(body, `name="src.body.1"`) {
		t.Fatalf("a new placeholder without its source: %d", status)
	}
	form.Set("src.body.1", "contact")
	form.Set("val.body.1", "first_name")
	form.Set("fb.body.1", "there")
	if status, _ := b.do("POST", edit, form); status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	got, _ := templates.Get(context.Background(), queries.New(e.pool), account, tpl.ID)
	if got.Components.Body.Text != "Hello {{1}}" || got.Parameters["body.1"].Field != "first_name" {
		t.Fatalf("after the edit: %+v", got.Template)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE templates SET components = '{"header": {"format": "image"}, "body": {"text": "Hi"}}' WHERE id = $1`, tpl.ID); err != nil {
		t.Fatal(err)
	}
	if status, _ := b.do("GET", edit, nil); status != http.StatusConflict {
		t.Fatalf("a template with a media header: %d", status)
	}
}
