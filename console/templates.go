package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/segment"
	"github.com/dripcast/dripcast/templates"
)

func (c *Console) templateList(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showTemplates(w, r, v, http.StatusOK, nil, "")
}

// showTemplates is the list, with a sync's result or its error.
func (c *Console) showTemplates(w http.ResponseWriter, r *http.Request, v *visit, status int, synced *templates.SyncResult, problem string) error {
	ctx, account := r.Context(), v.sess.AccountID
	rows, err := c.q.ListTemplates(ctx, queries.ListTemplatesParams{AccountID: account, Lim: listLimit})
	if err != nil {
		return err
	}
	chans, err := c.q.ListChannels(ctx, queries.ListChannelsParams{AccountID: account, Lim: listLimit})
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "templates", "Templates", map[string]any{"Templates": rows, "Channels": chans,
		"Synced": synced, "Problem": problem, "Deleted": r.URL.Query().Get("deleted") != ""})
	return nil
}

// syncTemplates makes the account's templates what a channel's WABA lists on Meta, and shows
// what changed.
func (c *Console) syncTemplates(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := strconv.ParseInt(newForm(r).Get("channel"), 10, 64)
	if err != nil {
		return c.showTemplates(w, r, v, http.StatusBadRequest, nil, "Choose a number to sync from.")
	}
	res, err := templates.SyncChannel(r.Context(), c.db, v.sess.Actor(v.ip), c.opts.Meta, c.opts.Secrets, id)
	if e, ok := invalid.As(err); ok {
		return c.showTemplates(w, r, v, http.StatusConflict, nil, e.Message)
	}
	if err != nil {
		return err
	}
	return c.showTemplates(w, r, v, http.StatusOK, &res, "")
}

// previewContacts is how many contacts the preview's chooser offers.
const previewContacts = 20

// templatePage shows the template as WhatsApp shows it, filled for a chosen contact (found by the
// search ?q=, chosen by ?contact=), and its parameter mapping.
func (c *Console) templatePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := rowOf(c, r, v, templates.Get)
	if err != nil {
		return err
	}
	return c.showTemplate(w, r, v, http.StatusOK, t, nil, &form{Errors: map[string]string{}})
}

func (c *Console) showTemplate(w http.ResponseWriter, r *http.Request, v *visit, status int, t templates.View, values url.Values, f *form) error {
	ctx, q := r.Context(), r.URL.Query()
	data := map[string]any{"T": t, "Part": templatePart{ID: t.ID, Preview: preview(t.Template), Params: paramRows(t.Template, values, f)},
		"Form": f, "Q": q, "Saved": q.Get("saved"), "For": int64(0)}
	seesPhones := role.SeesPhones(v.sess.Role)
	rule, err := segment.Search{Text: q.Get("q")}.Rule(seesPhones)
	if errors.Is(err, segment.ErrPhoneSearch) {
		data["Problem"], rule = "Your role sees phone numbers masked, so it cannot search by phone.", nil
	} else if err != nil {
		return err
	}
	people, err := segment.Contacts(ctx, c.db, v.sess.AccountID, rule, 0, previewContacts)
	if err != nil {
		return err
	}
	data["Contacts"] = people
	if data["History"], err = templates.History(ctx, c.q, v.sess.AccountID, t.ID); err != nil {
		return err
	}
	if id, _ := strconv.ParseInt(q.Get("contact"), 10, 64); id != 0 {
		out, err := templates.RenderFor(ctx, c.q, v.sess.AccountID, t, id, nil, !seesPhones)
		var renderErr *templates.RenderError
		switch {
		case errors.As(err, &renderErr):
			data["RenderError"] = err.Error()
		case err != nil:
			return err
		default:
			data["For"], data["Part"] = id, templatePart{ID: t.ID, Preview: out.Preview, Params: paramRows(t.Template, values, f)}
		}
	}
	c.render(w, r, v, status, "template", t.Name, data)
	return nil
}

// saveMapping replaces where each parameter of the template comes from.
func (c *Console) saveMapping(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := rowOf(c, r, v, templates.Get)
	if err != nil {
		return err
	}
	f := newForm(r)
	in := t.Template
	in.Parameters = readMapping(r.PostForm)
	_, err = templates.Update(r.Context(), c.db, v.sess.Actor(v.ip), t.ID, in)
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showTemplate(w, r, v, http.StatusBadRequest, t, r.PostForm, f)
	}
	http.Redirect(w, r, fmt.Sprintf("/templates/%d?saved=mapping", t.ID), http.StatusSeeOther)
	return nil
}

func (c *Console) deleteTemplate(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := rowOf(c, r, v, templates.Get)
	if err != nil {
		return err
	}
	err = templates.Delete(r.Context(), c.db, v.sess.Actor(v.ip), t.ID)
	if e, ok := invalid.As(err); ok && e.Code == invalid.CodeConflict {
		f := &form{Errors: map[string]string{}, Error: e.Message}
		return c.showTemplate(w, r, v, http.StatusConflict, t, nil, f)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/templates?deleted=1", http.StatusSeeOther)
	return nil
}

// newTemplate is the hand-entry form (until templates sync from Meta): the text first, then, once
// its placeholders are known, where each comes from.
func (c *Console) newTemplate(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := &form{Values: url.Values{"language": {"en"}, "category": {"marketing"}, "status": {"approved"}}, Errors: map[string]string{}}
	return c.showNewTemplate(w, r, v, http.StatusOK, templates.Template{}, f)
}

func (c *Console) showNewTemplate(w http.ResponseWriter, r *http.Request, v *visit, status int, t templates.Template, f *form) error {
	return c.showTemplateForm(w, r, v, status, 0, t, f)
}

// showTemplateForm is the hand-entry form for a new template (id 0) or to edit one.
func (c *Console) showTemplateForm(w http.ResponseWriter, r *http.Request, v *visit, status int, id int64, t templates.Template, f *form) error {
	title := "New template"
	if id != 0 {
		title = "Edit " + t.Name
	}
	c.render(w, r, v, status, "template-new", title, map[string]any{"ID": id, "Form": f, "Params": paramRows(t, f.Values, f),
		"Categories": templates.Categories, "Statuses": templates.Statuses})
	return nil
}

// editTemplate shows a template in the hand-entry form, when the form can hold all of it (text
// header, body, footer, quick replies); one with media or other buttons is Meta's to change.
func (c *Console) editTemplate(w http.ResponseWriter, r *http.Request, v *visit) error {
	t, err := rowOf(c, r, v, templates.Get)
	if err != nil {
		return err
	}
	vals, ok := templateForm(t.Template)
	if !ok {
		return errPage(http.StatusConflict, "This template has a media header or buttons other than quick replies, which this form cannot show: change it at Meta, or through the API.")
	}
	return c.showTemplateForm(w, r, v, http.StatusOK, t.ID, t.Template, &form{Values: vals, Errors: map[string]string{}})
}

// templateForm is a template as the hand-entry form's fields; ok is false when the form cannot
// hold it whole.
func templateForm(t templates.Template) (url.Values, bool) {
	vals := url.Values{"name": {t.Name}, "language": {t.Language}, "category": {t.Category}, "status": {t.Status},
		"body": {t.Components.Body.Text}}
	if h := t.Components.Header; h != nil {
		if h.Format != "text" {
			return vals, false
		}
		vals.Set("header", h.Text)
	}
	if ft := t.Components.Footer; ft != nil {
		vals.Set("footer", ft.Text)
	}
	var buttons []string
	for _, b := range t.Components.Buttons {
		if b.Type != "quick_reply" {
			return vals, false
		}
		buttons = append(buttons, b.Text)
	}
	vals.Set("buttons", strings.Join(buttons, "\n"))
	return vals, true
}

// updateTemplate saves the edited template through the API's rule (templates.Update).
func (c *Console) updateTemplate(w http.ResponseWriter, r *http.Request, v *visit) error {
	before, err := rowOf(c, r, v, templates.Get)
	if err != nil {
		return err
	}
	if _, ok := templateForm(before.Template); !ok {
		return errPage(http.StatusConflict, "This template has parts this form cannot show: change it at Meta, or through the API.")
	}
	return c.saveTemplate(w, r, v, before.ID)
}

// readTemplate reads the hand-entry form: header, body and footer text, and quick-reply buttons
// one per line.
func readTemplate(vals url.Values) templates.Template {
	t := templates.Template{Name: strings.TrimSpace(vals.Get("name")), Language: strings.TrimSpace(vals.Get("language")),
		Category: vals.Get("category"), Status: vals.Get("status"), Parameters: readMapping(vals)}
	t.Components.Body.Text = strings.TrimSpace(vals.Get("body"))
	if h := strings.TrimSpace(vals.Get("header")); h != "" {
		t.Components.Header = &templates.Header{Format: "text", Text: h}
	}
	if ft := strings.TrimSpace(vals.Get("footer")); ft != "" {
		t.Components.Footer = &templates.Text{Text: ft}
	}
	for _, line := range strings.Split(vals.Get("buttons"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			t.Components.Buttons = append(t.Components.Buttons, templates.Button{Type: "quick_reply", Text: line})
		}
	}
	slots := t.Slots()
	for slot := range t.Parameters {
		if !slices.Contains(slots, slot) { // a placeholder the text no longer has
			delete(t.Parameters, slot)
		}
	}
	return t
}

// formField names the hand-entry form's field for a template error's field.
func formField(field string) string {
	for prefix, name := range map[string]string{"components.header": "header", "components.body": "body",
		"components.footer": "footer", "components.buttons": "buttons"} {
		if strings.HasPrefix(field, prefix) {
			return name
		}
	}
	return field
}

// createTemplate saves the hand-entered template; while a placeholder has no source yet the form
// comes back with a row for each.
func (c *Console) createTemplate(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.saveTemplate(w, r, v, 0)
}

// saveTemplate creates (id 0) or replaces a template from the hand-entry form.
func (c *Console) saveTemplate(w http.ResponseWriter, r *http.Request, v *visit, id int64) error {
	f := newForm(r)
	t := readTemplate(r.PostForm)
	var saved templates.View
	var err error
	if id == 0 {
		saved, err = templates.Create(r.Context(), c.db, v.sess.Actor(v.ip), t)
	} else {
		saved, err = templates.Update(r.Context(), c.db, v.sess.Actor(v.ip), id, t)
	}
	if e, ok := invalid.As(err); ok {
		if e.Code == invalid.CodeConflict {
			e.Field, e.Code = "name", invalid.Code
		}
		e.Field = formField(e.Field)
	}
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showTemplateForm(w, r, v, http.StatusBadRequest, id, t, f)
	}
	http.Redirect(w, r, fmt.Sprintf("/templates/%d", saved.ID), http.StatusSeeOther)
	return nil
}
