package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

// contactView is a contact as the API shows it.
type contactView struct {
	ID             int64           `json:"id"`
	Phone          string          `json:"phone"`
	WaID           string          `json:"wa_id"`
	Name           string          `json:"name"`
	Email          string          `json:"email"`
	Tags           []string        `json:"tags"`
	Attributes     json.RawMessage `json:"attributes"`
	Country        string          `json:"country"`
	TimeZone       string          `json:"time_zone"`
	OptedIn        bool            `json:"opted_in"`
	OptInChangedAt *time.Time      `json:"opt_in_changed_at"`
	OptInSource    string          `json:"opt_in_source"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

func viewContact(c queries.Contact) contactView {
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return contactView{ID: c.ID, Phone: c.Phone, WaID: c.WaID, Name: c.Name, Email: c.Email,
		Tags: tags, Attributes: c.Attributes, Country: c.Country, TimeZone: c.TimeZone,
		OptedIn: c.OptedIn, OptInChangedAt: c.OptInChangedAt, OptInSource: c.OptInSource,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// contactInput is the body of POST /v1/contacts.
type contactInput struct {
	contacts.Input
	DefaultCountry string `json:"default_country"`
}

// createContact creates a contact, or updates the one with the same phone number.
func (s *Server) createContact(w http.ResponseWriter, r *http.Request) error {
	var in contactInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	row, err := in.Normalize(in.DefaultCountry)
	if err != nil {
		return contactError(err)
	}
	ctx, p := r.Context(), caller(r.Context())
	var c queries.Contact
	var created bool
	err = s.inTx(ctx, func(q *queries.Queries) error {
		out, err := contacts.Upsert(ctx, q, p.AccountID, []contacts.Row{row}, p.author())
		if err != nil {
			return err
		}
		created = out.Created == 1
		c, err = q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: out.IDs[row.Phone]})
		if err != nil {
			return err
		}
		action, event := "contact.update", drip.EventContactUpdated
		if created {
			action, event = "contact.create", drip.EventContactCreated
		}
		if err := drip.RecordContactEvents(ctx, q, p.AccountID, c.ID, drip.ContactEvent{Name: event}); err != nil {
			return err
		}
		return s.audit(ctx, q, action, "contact", c.ID, nil, viewContact(c))
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewContact(c))
	return nil
}

// contactError turns a validation error of the contacts package into a 400 naming the field.
func contactError(err error) error {
	msg := err.Error()
	field, _, _ := strings.Cut(msg, ":")
	return errValidation(field, "%s", msg)
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	c, err := s.q.GetContact(r.Context(), queries.GetContactParams{AccountID: caller(r.Context()).AccountID, ID: id})
	if err != nil {
		return notFoundAs(err, "contact")
	}
	writeJSON(w, http.StatusOK, viewContact(c))
	return nil
}

// listContacts pages through contacts, filtered by tag, opt-in, country, a text search or a
// saved segment.
func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) error {
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	rule, err := s.listFilter(r, p.AccountID)
	if err != nil {
		return err
	}
	list, err := segment.Contacts(ctx, s.db, p.AccountID, rule, after, limit+1)
	if err != nil {
		return err
	}
	views := make([]contactView, len(list))
	for i, c := range list {
		views[i] = viewContact(c)
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v contactView) int64 { return v.ID }))
	return nil
}

// listFilter turns the query parameters of a contact listing into one rule.
func (s *Server) listFilter(r *http.Request, accountID int64) (*segment.Rule, error) {
	q := r.URL.Query()
	var all []segment.Rule
	cond := func(field, op string, v any) {
		b, _ := json.Marshal(v)
		all = append(all, segment.Rule{Field: field, Op: op, Value: b})
	}
	if v := q.Get("tag"); v != "" {
		cond("tags", "contains", v)
	}
	if v := q.Get("country"); v != "" {
		cond("country", "eq", strings.ToUpper(v))
	}
	if v := q.Get("opted_in"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errValidation("opted_in", "opted_in must be true or false")
		}
		cond("opted_in", "eq", b)
	}
	if v := q.Get("q"); v != "" {
		search := func(field string) segment.Rule {
			b, _ := json.Marshal(v)
			return segment.Rule{Field: field, Op: "contains", Value: b}
		}
		fields := []segment.Rule{search("name"), search("email")}
		if seesPhones(caller(r.Context())) {
			fields = append(fields, search("phone"))
		} else if phoneLike(v) {
			return nil, errMaskedPhone
		}
		all = append(all, segment.Rule{Any: fields})
	}
	if v := q.Get("segment_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errNotFound("segment")
		}
		seg, err := s.q.GetSegment(r.Context(), queries.GetSegmentParams{AccountID: accountID, ID: id})
		if err != nil {
			return nil, notFoundAs(err, "segment")
		}
		rule, err := segment.Parse(seg.Rules)
		if err != nil {
			return nil, err
		}
		all = append(all, rule)
	}
	if len(all) == 0 {
		return nil, nil
	}
	rule := segment.Rule{All: all}
	if err := segment.Check(rule); err != nil {
		return nil, err
	}
	return &rule, nil
}

// contactPatch is the body of PATCH /v1/contacts/{id}. The phone number is the contact's identity
// and cannot change; tags are replaced; attributes are merged and a null removes one.
type contactPatch struct {
	Name       *string        `json:"name"`
	Email      *string        `json:"email"`
	Tags       *[]string      `json:"tags"`
	Attributes map[string]any `json:"attributes"`
	TimeZone   *string        `json:"time_zone"`
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	var in contactPatch
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	params, err := in.params()
	if err != nil {
		return contactError(err)
	}
	ctx, p := r.Context(), caller(r.Context())
	params.AccountID, params.ID = p.AccountID, id
	var c queries.Contact
	err = s.inTx(ctx, func(q *queries.Queries) error {
		before, err := q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: id})
		if err != nil {
			return notFoundAs(err, "contact")
		}
		if c, err = q.UpdateContact(ctx, params); err != nil {
			return err
		}
		if err := drip.RecordContactEvents(ctx, q, p.AccountID, id, contactEvents(before, c)...); err != nil {
			return err
		}
		return s.audit(ctx, q, "contact.update", "contact", id, viewContact(before), viewContact(c))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewContact(c))
	return nil
}

// contactEvents are the events an update makes: contact.updated, and tag.added for each new tag.
func contactEvents(before, after queries.Contact) []drip.ContactEvent {
	evs := []drip.ContactEvent{{Name: drip.EventContactUpdated}}
	for _, t := range after.Tags {
		if !slices.Contains(before.Tags, t) {
			evs = append(evs, drip.ContactEvent{Name: drip.EventTagAdded, Properties: map[string]any{"tag": t}})
		}
	}
	return evs
}

func (in contactPatch) params() (queries.UpdateContactParams, error) {
	var p queries.UpdateContactParams
	var err error
	if in.Name != nil {
		n, err := contacts.CheckName(*in.Name)
		if err != nil {
			return p, err
		}
		p.Name = &n
	}
	if in.Email != nil {
		e, err := contacts.CheckEmail(*in.Email)
		if err != nil {
			return p, err
		}
		p.Email = &e
	}
	if in.TimeZone != nil {
		tz, err := contacts.CheckTimeZone(*in.TimeZone)
		if err != nil {
			return p, err
		}
		p.TimeZone = &tz
	}
	if in.Tags != nil {
		if p.Tags, err = contacts.CheckTags(*in.Tags); err != nil {
			return p, err
		}
		if p.Tags == nil {
			p.Tags = []string{}
		}
	}
	if in.Attributes != nil {
		if err := contacts.CheckAttributes(in.Attributes, true); err != nil {
			return p, err
		}
		p.Attributes, _ = json.Marshal(in.Attributes)
	}
	return p, nil
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	err = s.inTx(ctx, func(q *queries.Queries) error {
		before, err := q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: id})
		if err != nil {
			return notFoundAs(err, "contact")
		}
		if _, err := q.DeleteContact(ctx, queries.DeleteContactParams{AccountID: p.AccountID, ID: id}); err != nil {
			return err
		}
		return s.audit(ctx, q, "contact.delete", "contact", id, viewContact(before), nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) optIn(w http.ResponseWriter, r *http.Request) error  { return s.setOptIn(w, r, true) }
func (s *Server) optOut(w http.ResponseWriter, r *http.Request) error { return s.setOptIn(w, r, false) }

// setOptIn records a consent change with its source; setting the value a contact already has
// changes nothing and records nothing.
func (s *Server) setOptIn(w http.ResponseWriter, r *http.Request, optedIn bool) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	var in struct {
		Source string `json:"source"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
			return err
		}
	}
	source, err := contacts.CheckSource(in.Source)
	if err != nil {
		return errValidation("source", "%s", err.Error())
	}
	ctx, p := r.Context(), caller(r.Context())
	var c queries.Contact
	err = s.inTx(ctx, func(q *queries.Queries) error {
		if _, err := q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: id}); err != nil {
			return notFoundAs(err, "contact")
		}
		changed, err := q.SetContactOptIn(ctx, queries.SetContactOptInParams{OptedIn: optedIn, Source: source,
			SetBy: p.author().By, AccountID: p.AccountID, ID: id})
		if err != nil {
			return err
		}
		if c, err = q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: id}); err != nil {
			return err
		}
		if changed == 0 {
			return nil
		}
		action := map[bool]string{true: "contact.opt_in", false: "contact.opt_out"}[optedIn]
		return s.audit(ctx, q, action, "contact", id, map[string]bool{"opted_in": !optedIn},
			map[string]any{"opted_in": optedIn, "source": source})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewContact(c))
	return nil
}

func (s *Server) listConsent(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	if _, err := s.q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: id}); err != nil {
		return notFoundAs(err, "contact")
	}
	events, err := s.q.ListConsentEvents(ctx, queries.ListConsentEventsParams{AccountID: p.AccountID, ContactID: id})
	if err != nil {
		return err
	}
	type view struct {
		OptedIn bool      `json:"opted_in"`
		Source  string    `json:"source"`
		SetBy   string    `json:"set_by"` // key:<id>, integration:<id>, meta
		At      time.Time `json:"at"`
	}
	out := make([]view, len(events))
	for i, e := range events {
		out[i] = view{e.OptedIn, e.Source, e.SetBy, e.At}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

// notFoundAs names what was not found when err is a missing row.
func notFoundAs(err error, what string) error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return err
	}
	if isNoRows(err) {
		return errNotFound(what)
	}
	return err
}
