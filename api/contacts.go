package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

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
	c, created, err := contacts.Save(r.Context(), s.db, caller(r.Context()).actor(), in.Input, in.DefaultCountry)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, contacts.ViewOf(c))
	return nil
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	c, err := contacts.Get(r.Context(), s.q, caller(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contacts.ViewOf(c))
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
	views := make([]contacts.View, len(list))
	for i, c := range list {
		views[i] = contacts.ViewOf(c)
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v contacts.View) int64 { return v.ID }))
	return nil
}

// listFilter turns the query parameters of a contact listing into one rule.
func (s *Server) listFilter(r *http.Request, accountID int64) (*segment.Rule, error) {
	q := r.URL.Query()
	search := segment.Search{Text: q.Get("q"), Tag: q.Get("tag"), Country: q.Get("country")}
	if v := q.Get("opted_in"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errValidation("opted_in", "opted_in must be true or false")
		}
		search.OptedIn = &b
	}
	rule, err := search.Rule(seesPhones(caller(r.Context())))
	if errors.Is(err, segment.ErrPhoneSearch) {
		return nil, errMaskedPhone
	}
	if err != nil {
		return nil, err
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
		saved, err := segment.Parse(seg.Rules)
		if err != nil {
			return nil, err
		}
		rule = segment.And(rule, &saved)
	}
	return rule, nil
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	var in contacts.Patch
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	c, err := contacts.Update(r.Context(), s.db, caller(r.Context()).actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contacts.ViewOf(c))
	return nil
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	if err := contacts.Delete(r.Context(), s.db, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// exportContact answers everything Dripcast holds about one person (contacts.ExportOf).
func (s *Server) exportContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	out, err := contacts.ExportOf(r.Context(), s.db, caller(r.Context()).actor(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// eraseContact removes one person's personal data everywhere (contacts.Erase).
func (s *Server) eraseContact(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	if err := contacts.Erase(r.Context(), s.db, s.rdb, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	c, err := contacts.Get(r.Context(), s.q, caller(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contacts.ViewOf(c))
	return nil
}

func (s *Server) optIn(w http.ResponseWriter, r *http.Request) error  { return s.setOptIn(w, r, true) }
func (s *Server) optOut(w http.ResponseWriter, r *http.Request) error { return s.setOptIn(w, r, false) }

// setOptIn records a consent change with its source.
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
	c, err := contacts.SetOptIn(r.Context(), s.db, caller(r.Context()).actor(), id, optedIn, in.Source)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contacts.ViewOf(c))
	return nil
}

func (s *Server) listConsent(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "contact")
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	if _, err := contacts.Get(ctx, s.q, p.AccountID, id); err != nil {
		return err
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
