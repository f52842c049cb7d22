package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/dripcast/dripcast/integrations"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// deliveriesShown is how many of an integration's latest deliveries its page lists.
const deliveriesShown = 50

func (c *Console) integrationList(w http.ResponseWriter, r *http.Request, v *visit) error {
	rows, err := c.q.ListIntegrations(r.Context(), queries.ListIntegrationsParams{AccountID: v.sess.AccountID, Lim: listLimit})
	if err != nil {
		return err
	}
	views := make([]integrations.View, len(rows))
	for i, row := range rows {
		views[i] = integrations.ViewOf(row)
	}
	c.render(w, r, v, http.StatusOK, "integrations", "Integrations", map[string]any{"Integrations": views, "Base": c.base(r),
		"Deleted": r.URL.Query().Get("deleted") != ""})
	return nil
}

func (c *Console) newIntegration(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := &form{Values: url.Values{"kind": {integrations.Generic}, "phone": {"customer.phone"}, "event": {"event"}}, Errors: map[string]string{}}
	c.render(w, r, v, http.StatusOK, "integration-new", "New integration", map[string]any{"Form": f})
	return nil
}

// readIntegration reads the integration form: for a generic one, where each field of a delivery
// is (a dotted path into its JSON), attributes one per line as attribute = path.
func readIntegration(vals url.Values, kind string) (integrations.Input, error) {
	in := integrations.Input{Kind: kind, Name: ptr(vals.Get("name")), DefaultCountry: ptr(vals.Get("default_country")),
		OverwriteContacts: ptr(vals.Get("overwrite_contacts") == "on")}
	if s := vals.Get("secret"); s != "" {
		in.Secret = &s
	}
	if kind != integrations.Generic {
		return in, nil
	}
	m := integrations.Mapping{Phone: strings.TrimSpace(vals.Get("phone")), Name: strings.TrimSpace(vals.Get("name_path")),
		Email: strings.TrimSpace(vals.Get("email")), Event: strings.TrimSpace(vals.Get("event")),
		EventName: strings.TrimSpace(vals.Get("event_name")), Properties: strings.TrimSpace(vals.Get("properties"))}
	for i, line := range strings.Split(vals.Get("attributes"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		attr, path, ok := strings.Cut(line, "=")
		if !ok {
			return in, invalid.Field("attributes", "line %d: write attribute = path", i+1)
		}
		if m.Attributes == nil {
			m.Attributes = map[string]string{}
		}
		m.Attributes[strings.TrimSpace(attr)] = strings.TrimSpace(path)
	}
	in.Mapping = &m
	return in, nil
}

// integrationField names the form's field for a domain error's field.
func integrationField(field string) string {
	switch {
	case field == "mapping.name":
		return "name_path"
	case strings.HasPrefix(field, "mapping.attributes"):
		return "attributes"
	case strings.HasPrefix(field, "mapping."):
		return strings.TrimPrefix(field, "mapping.")
	}
	return field
}

// takeIntegration files an integration error beside its form field.
func takeIntegration(f *form, err error) error {
	if e, ok := invalid.As(err); ok {
		e.Field = integrationField(e.Field)
	}
	return f.take(err)
}

// createIntegration makes one and shows its page with the signing secret, this once.
func (c *Console) createIntegration(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	in, err := readIntegration(r.PostForm, f.Get("kind"))
	var view integrations.View
	if err == nil {
		view, err = integrations.Create(r.Context(), c.db, c.opts.Secrets, v.sess.Actor(v.ip), in)
	}
	if err = takeIntegration(f, err); err != nil {
		return err
	}
	if !f.ok() {
		c.render(w, r, v, http.StatusBadRequest, "integration-new", "New integration", map[string]any{"Form": f})
		return nil
	}
	row, err := integrations.Get(r.Context(), c.q, v.sess.AccountID, view.ID)
	if err != nil {
		return err
	}
	return c.showIntegration(w, r, v, http.StatusCreated, row, editIntegrationForm(view), view.Secret)
}

// editIntegrationForm is the edit form filled with the integration as stored.
func editIntegrationForm(view integrations.View) *form {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	f.Values.Set("name", view.Name)
	f.Values.Set("default_country", view.DefaultCountry)
	if view.OverwriteContacts {
		f.Values.Set("overwrite_contacts", "on")
	}
	if m := view.Mapping; m != nil {
		for k, val := range map[string]string{"phone": m.Phone, "name_path": m.Name, "email": m.Email, "event": m.Event,
			"event_name": m.EventName, "properties": m.Properties} {
			f.Values.Set(k, val)
		}
		lines := make([]string, 0, len(m.Attributes))
		for attr, path := range m.Attributes {
			lines = append(lines, attr+" = "+path)
		}
		sort.Strings(lines)
		f.Values.Set("attributes", strings.Join(lines, "\n"))
	}
	return f
}

func (c *Console) integrationPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	row, err := rowOf(c, r, v, integrations.Get)
	if err != nil {
		return err
	}
	return c.showIntegration(w, r, v, http.StatusOK, row, editIntegrationForm(integrations.ViewOf(row)), "")
}

func (c *Console) showIntegration(w http.ResponseWriter, r *http.Request, v *visit, status int, row queries.Integration, f *form, secret string) error {
	deliveries, err := c.q.RecentDeliveries(r.Context(), queries.RecentDeliveriesParams{AccountID: v.sess.AccountID,
		IntegrationID: row.ID, Lim: deliveriesShown})
	if err != nil {
		return err
	}
	view := integrations.ViewOf(row)
	c.render(w, r, v, status, "integration", view.Name, map[string]any{"I": view, "HookURL": c.base(r) + view.URL, "Secret": secret,
		"Form": f, "Deliveries": deliveries, "Saved": r.URL.Query().Get("saved")})
	return nil
}

// updateIntegration saves the edit form (a new Shopify secret only when one is typed).
func (c *Console) updateIntegration(w http.ResponseWriter, r *http.Request, v *visit) error {
	row, err := rowOf(c, r, v, integrations.Get)
	if err != nil {
		return err
	}
	f := newForm(r)
	in, err := readIntegration(r.PostForm, row.Kind)
	if err == nil {
		_, err = integrations.Update(r.Context(), c.db, c.opts.Secrets, v.sess.Actor(v.ip), row.ID, in)
	}
	if err = takeIntegration(f, err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showIntegration(w, r, v, http.StatusBadRequest, row, f, "")
	}
	http.Redirect(w, r, fmt.Sprintf("/integrations/%d?saved=1", row.ID), http.StatusSeeOther)
	return nil
}

func (c *Console) deleteIntegration(w http.ResponseWriter, r *http.Request, v *visit) error {
	row, err := rowOf(c, r, v, integrations.Get)
	if err != nil {
		return err
	}
	if err := integrations.Delete(r.Context(), c.db, v.sess.Actor(v.ip), row.ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations?deleted=1", http.StatusSeeOther)
	return nil
}
