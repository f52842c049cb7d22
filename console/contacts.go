package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/segment"
)

// contactsPageSize is the contacts on one page of the list.
const contactsPageSize = 50

// contactSearch reads the list's filter from the query: q (name, email, and phone for a role that
// sees numbers), tag, consent (in / out) and one attribute's value.
func contactSearch(r *http.Request) segment.Search {
	q := r.URL.Query()
	s := segment.Search{Text: q.Get("q"), Tag: strings.TrimSpace(q.Get("tag")), Attribute: strings.TrimSpace(q.Get("attr")),
		Value: q.Get("value")}
	switch q.Get("consent") {
	case "in":
		s.OptedIn = ptr(true)
	case "out":
		s.OptedIn = ptr(false)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func (c *Console) contactList(w http.ResponseWriter, r *http.Request, v *visit) error {
	search := contactSearch(r)
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	var list []queries.Contact
	problem := ""
	rule, err := search.Rule(role.SeesPhones(v.sess.Role))
	if e, ok := invalid.As(err); ok {
		problem = e.Message
	} else if errors.Is(err, segment.ErrPhoneSearch) {
		problem = "Your role sees phone numbers masked, so it cannot search by phone."
	} else if err != nil {
		return err
	}
	if problem == "" {
		if list, err = segment.Contacts(r.Context(), c.db, v.sess.AccountID, rule, after, contactsPageSize+1); err != nil {
			return err
		}
	}
	next := ""
	if len(list) > contactsPageSize {
		list = list[:contactsPageSize]
		next = nextPage(r, "after", list[len(list)-1].ID)
	}
	c.render(w, r, v, http.StatusOK, "contacts", "Contacts", map[string]any{"Contacts": list, "Next": next, "Q": r.URL.Query(),
		"Problem": problem})
	return nil
}

func (c *Console) contactPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := rowOf(c, r, v, contacts.Get)
	if err != nil {
		return err
	}
	return c.showContact(w, r, v, http.StatusOK, ct, editForm(ct))
}

// editForm is the edit form filled with the contact as stored.
func editForm(ct queries.Contact) *form {
	f := &form{Values: url.Values{}, Errors: map[string]string{}}
	f.Values.Set("name", ct.Name)
	f.Values.Set("email", ct.Email)
	f.Values.Set("tags", strings.Join(ct.Tags, ", "))
	f.Values.Set("time_zone", ct.TimeZone)
	f.Values.Set("attributes", attributeLines(ct.Attributes))
	return f
}

func (c *Console) showContact(w http.ResponseWriter, r *http.Request, v *visit, status int, ct queries.Contact, f *form) error {
	ctx, account := r.Context(), v.sess.AccountID
	consent, err := c.q.ListConsentEvents(ctx, queries.ListConsentEventsParams{AccountID: account, ContactID: ct.ID})
	if err != nil {
		return err
	}
	messages, err := c.q.ContactMessages(ctx, queries.ContactMessagesParams{AccountID: account, ContactID: ct.ID})
	if err != nil {
		return err
	}
	enrollments, err := c.q.ContactEnrollments(ctx, queries.ContactEnrollmentsParams{AccountID: account, ContactID: ct.ID})
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "contact", contactTitle(ct, newFormat(v.sess)), map[string]any{"C": ct, "Attributes": attributeLines(ct.Attributes),
		"Consent": consent, "Messages": messages, "Enrollments": enrollments, "Form": f, "Sources": consentSources(),
		"Saved": r.URL.Query().Get("saved")})
	return nil
}

// consentSources are the sources a person may give for a consent change.
func consentSources() []string {
	return slices.DeleteFunc(slices.Clone(contacts.ConsentSources), func(s string) bool { return s == "api" || s == "import" || s == "event" })
}

// contactTitle names a contact by name, else by number (as the viewer may see it).
func contactTitle(ct queries.Contact, f format) string {
	if ct.Name != "" {
		return ct.Name
	}
	return f.Phone(ct.Phone)
}

// updateContact saves the edit form: fields, tags (comma separated), and attributes one per line
// as name = value.
func (c *Console) updateContact(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := rowOf(c, r, v, contacts.Get)
	if err != nil {
		return err
	}
	f := newForm(r)
	patch := contacts.Patch{Name: ptr(f.Get("name")), Email: ptr(f.Get("email"))}
	if tz := f.Get("time_zone"); tz != ct.TimeZone {
		patch.TimeZone = &tz
	}
	tags := tagList(f.Get("tags"))
	patch.Tags = &tags
	attrs, err := parseAttributeLines(f.Get("attributes"), ct.Attributes)
	if err != nil {
		f.Errors["attributes"] = err.Error()
		return c.showContact(w, r, v, http.StatusBadRequest, ct, f)
	}
	patch.Attributes = attrs
	_, err = contacts.Update(r.Context(), c.db, v.sess.Actor(v.ip), ct.ID, patch)
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showContact(w, r, v, http.StatusBadRequest, ct, f)
	}
	http.Redirect(w, r, fmt.Sprintf("/contacts/%d?saved=contact", ct.ID), http.StatusSeeOther)
	return nil
}

// tagList reads tags separated by commas.
func tagList(s string) []string {
	tags := []string{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

func (c *Console) newContact(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showNewContact(w, r, v, http.StatusOK, &form{Values: url.Values{}, Errors: map[string]string{}})
}

func (c *Console) showNewContact(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form) error {
	c.render(w, r, v, status, "contact-new", "New contact", map[string]any{"Form": f, "Sources": consentSources()})
	return nil
}

// createContact adds one contact by hand through the API's rule: a number already known updates
// that contact, as the API does.
func (c *Console) createContact(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	in := contacts.Input{Phone: f.Get("phone"), Name: ptr(f.Get("name")), Email: ptr(f.Get("email")), Tags: tagList(f.Get("tags"))}
	if tz := strings.TrimSpace(f.Get("time_zone")); tz != "" {
		in.TimeZone = &tz
	}
	attrs, err := parseAttributeLines(f.Get("attributes"), nil)
	if err != nil {
		f.Errors["attributes"] = err.Error()
	}
	in.Attributes = attrs
	if f.Get("opted_in") != "" {
		in.OptedIn, in.OptInSource = ptr(true), f.Get("source")
		if !slices.Contains(consentSources(), in.OptInSource) {
			f.Errors["source"] = "choose where the consent came from"
		}
	}
	if !f.ok() {
		return c.showNewContact(w, r, v, http.StatusBadRequest, f)
	}
	ct, created, err := contacts.Save(r.Context(), c.db, v.sess.Actor(v.ip), in, strings.ToUpper(strings.TrimSpace(f.Get("default_country"))))
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showNewContact(w, r, v, http.StatusBadRequest, f)
	}
	saved := map[bool]string{true: "created", false: "existing"}[created]
	http.Redirect(w, r, fmt.Sprintf("/contacts/%d?saved=%s", ct.ID, saved), http.StatusSeeOther)
	return nil
}

// consent opts a contact in or out of marketing, with where that came from.
func (c *Console) consent(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := rowOf(c, r, v, contacts.Get)
	if err != nil {
		return err
	}
	in := r.PathValue("choice") == "opt-in"
	if !in && r.PathValue("choice") != "opt-out" {
		return noPage()
	}
	f := newForm(r)
	source := f.Get("source")
	if !slices.Contains(consentSources(), source) {
		f.Errors["source"] = "choose where the consent change came from"
		return c.showContact(w, r, v, http.StatusBadRequest, ct, f)
	}
	if _, err := contacts.SetOptIn(r.Context(), c.db, v.sess.Actor(v.ip), ct.ID, in, source); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/contacts/%d?saved=consent", ct.ID), http.StatusSeeOther)
	return nil
}

// deleteContact removes a contact (their messages stay in the reports).
func (c *Console) deleteContact(w http.ResponseWriter, r *http.Request, v *visit) error {
	ct, err := rowOf(c, r, v, contacts.Get)
	if err != nil {
		return err
	}
	if err := contacts.Delete(r.Context(), c.db, v.sess.Actor(v.ip), ct.ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/contacts?deleted=1", http.StatusSeeOther)
	return nil
}

// exportPerson downloads everything Dripcast holds about the person, as JSON (audited). A form
// posts it, with the CSRF token: another site cannot make a signed-in admin's browser fetch it.
func (c *Console) exportPerson(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := contacts.ExportOf(r.Context(), c.db, v.sess.Actor(v.ip), id)
	if err != nil {
		return noPageIfMissing(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="contact-%d.json"`, id))
	return json.NewEncoder(w).Encode(out)
}

// erasePerson removes the person's personal data everywhere (contacts.Erase); the contact stays,
// anonymised, so the reports keep their counts.
func (c *Console) erasePerson(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := contacts.Erase(r.Context(), c.db, c.opts.Redis, v.sess.Actor(v.ip), id); err != nil {
		return noPageIfMissing(err)
	}
	http.Redirect(w, r, fmt.Sprintf("/contacts/%d?saved=erased", id), http.StatusSeeOther)
	return nil
}

// attributeLines shows attributes one per line as name = value, sorted by name.
func attributeLines(raw []byte) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		v := m[k]
		s, ok := v.(string)
		if !ok {
			raw, _ := json.Marshal(v)
			s = string(raw)
		}
		fmt.Fprintf(&b, "%s = %s\n", k, s)
	}
	return b.String()
}

// parseAttributeLines reads name = value lines into the change to make to stored attributes: each
// line sets one (a number, true or false is kept as one, unless the attribute held text), and a
// stored attribute without a line is removed (null).
func parseAttributeLines(text string, stored []byte) (map[string]any, error) {
	out := map[string]any{}
	var before map[string]any
	_ = json.Unmarshal(stored, &before)
	for k := range before {
		out[k] = nil
	}
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: write name = value", i+1)
		}
		var typed any
		if _, wasText := before[k].(string); !wasText && json.Unmarshal([]byte(val), &typed) == nil {
			switch typed.(type) {
			case float64, bool:
				out[k] = typed
				continue
			}
		}
		out[k] = val
	}
	return out, nil
}
