package api

import (
	"net/http"

	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
)

// enrollInput is the body of POST /v1/sequences/{id}/enrollments: a contact by id or phone.
type enrollInput struct {
	ContactID      int64          `json:"contact_id"`
	Phone          string         `json:"phone"`
	DefaultCountry string         `json:"default_country"`
	Properties     map[string]any `json:"properties"`
}

// enroll puts one contact into an active sequence by hand.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) error {
	seqID, err := pathID(r, "sequence")
	if err != nil {
		return err
	}
	var in enrollInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	contact, err := s.contactByIDOrPhone(r, in.ContactID, in.Phone, in.DefaultCountry)
	if err != nil {
		return err
	}
	view, err := s.opts.Drips.EnrollByHand(r.Context(), caller(r.Context()).actor(), seqID, contact, in.Properties)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// contactByIDOrPhone finds an existing contact of the caller's account.
func (s *Server) contactByIDOrPhone(r *http.Request, id int64, raw, country string) (int64, error) {
	ctx, p := r.Context(), caller(r.Context())
	switch {
	case id != 0 && raw != "":
		return 0, errValidation("contact_id", "give contact_id or phone, not both")
	case id != 0:
		c, err := s.q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: id})
		if err == nil && c.ErasedAt != nil {
			return 0, invalid.Conflict("the contact was erased")
		}
		return c.ID, notFoundAs(err, "contact")
	case raw != "":
		num, err := phone.Normalize(raw, country)
		if err != nil {
			return 0, errValidation("phone", "%s", err.Error())
		}
		c, err := s.q.GetContactByPhone(ctx, queries.GetContactByPhoneParams{AccountID: p.AccountID, Phone: num.E164})
		return c.ID, notFoundAs(err, "contact")
	}
	return 0, errValidation("contact_id", "give contact_id or phone")
}

func (s *Server) listEnrollments(w http.ResponseWriter, r *http.Request) error {
	seq, err := s.loadSequence(r)
	if err != nil {
		return err
	}
	var status *queries.EnrollmentStatus
	if v := queries.EnrollmentStatus(r.URL.Query().Get("status")); v != "" {
		if !v.Valid() {
			return errValidation("status", "status is active, paused, completed or exited")
		}
		status = &v
	}
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.ListEnrollmentsRow, error) {
		return s.q.ListEnrollments(r.Context(), queries.ListEnrollmentsParams{AccountID: account, SequenceID: seq.ID,
			After: after, Status: status, Lim: lim})
	}, infallible(func(row queries.ListEnrollmentsRow) drip.EnrollmentView {
		v := drip.ViewEnrollment(row.Enrollment)
		v.Phone = row.Phone
		return v
	}), func(v drip.EnrollmentView) int64 { return v.ID })
}

// getEnrollment shows a contact's journey: each step of the version it is in, with its message.
func (s *Server) getEnrollment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "enrollment")
	if err != nil {
		return err
	}
	v, err := drip.Journey(r.Context(), s.q, caller(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// exitEnrollment takes a contact out of its sequence by hand.
func (s *Server) exitEnrollment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "enrollment")
	if err != nil {
		return err
	}
	v, err := drip.ExitByHand(r.Context(), s.db, caller(r.Context()).actor(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
