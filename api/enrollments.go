package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
)

type enrollmentView struct {
	ID         int64                    `json:"id"`
	SequenceID int64                    `json:"sequence_id"`
	Version    int32                    `json:"version"`
	ContactID  int64                    `json:"contact_id"`
	Phone      string                   `json:"phone,omitempty"`
	Status     queries.EnrollmentStatus `json:"status"`
	ExitReason string                   `json:"exit_reason"`
	ExitDetail string                   `json:"exit_detail"`
	NextStep   int16                    `json:"next_step"`
	NextRunAt  *time.Time               `json:"next_run_at"`
	Properties json.RawMessage          `json:"properties"`
	EventID    *int64                   `json:"event_id"`
	EnrolledAt time.Time                `json:"enrolled_at"`
	FinishedAt *time.Time               `json:"finished_at"`
	LastStepAt *time.Time               `json:"last_step_at"`
	Steps      []journeyStep            `json:"steps,omitempty"`
}

func viewEnrollment(e queries.Enrollment) enrollmentView {
	v := enrollmentView{ID: e.ID, SequenceID: e.SequenceID, Version: e.Version, ContactID: e.ContactID, Status: e.Status,
		ExitReason: e.ExitReason, ExitDetail: e.ExitDetail, NextStep: e.NextStep, NextRunAt: e.NextRunAt,
		Properties: e.Properties, EventID: e.EventID, EnrolledAt: e.EnrolledAt, FinishedAt: e.FinishedAt, LastStepAt: e.LastStepAt}
	if e.Status != queries.EnrollmentStatusActive && e.Status != queries.EnrollmentStatusPaused {
		v.NextRunAt = nil
	}
	return v
}

// journeyStep is one step of a contact's journey: what its message did, or when it will run.
type journeyStep struct {
	Step        int        `json:"step"`
	TemplateID  int64      `json:"template_id"`
	State       string     `json:"state"` // upcoming, next, not_reached, or the message's status
	Reason      string     `json:"reason,omitempty"`
	ErrorCode   int32      `json:"error_code,omitempty"`
	ScheduledAt *time.Time `json:"scheduled_at,omitempty"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	FailedAt    *time.Time `json:"failed_at,omitempty"`
	RepliedAt   *time.Time `json:"replied_at,omitempty"`
}

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
	if err := drip.CheckProperties(in.Properties); err != nil {
		return errValidation("properties", "%s", err.Error())
	}
	ctx, p := r.Context(), caller(r.Context())
	contact, err := s.contactByIDOrPhone(r, in.ContactID, in.Phone, in.DefaultCountry)
	if err != nil {
		return err
	}
	seq, err := s.q.GetSequenceForEnrollment(ctx, queries.GetSequenceForEnrollmentParams{AccountID: p.AccountID, ID: seqID})
	if err != nil {
		return notFoundAs(err, "sequence")
	}
	if seq.Status != queries.SequenceStatusActive {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the sequence is " + string(seq.Status) + "; only an active sequence enrolls"}
	}
	def, err := drip.Parse(seq.Definition)
	if err != nil {
		return err
	}
	var view enrollmentView
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		id, why, err := s.opts.Drips.Enroll(ctx, tx, drip.Sequence{ID: seq.ID, AccountID: p.AccountID, Version: seq.Version, Def: def},
			contact, in.Properties, nil)
		if err != nil {
			return err
		}
		if id == 0 {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the contact was not enrolled: " + why,
				Details: map[string]string{"reason": why}}
		}
		q := s.q.WithTx(tx)
		e, err := q.GetEnrollment(ctx, queries.GetEnrollmentParams{AccountID: p.AccountID, ID: id})
		if err != nil {
			return err
		}
		view = viewEnrollment(e)
		return s.audit(ctx, q, "enrollment.create", "enrollment", id, nil, view)
	})
	if err != nil {
		return err
	}
	s.opts.Drips.Enrolled(1)
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
	}, infallible(func(row queries.ListEnrollmentsRow) enrollmentView {
		v := viewEnrollment(row.Enrollment)
		v.Phone = row.Phone
		return v
	}), func(v enrollmentView) int64 { return v.ID })
}

// getEnrollment shows a contact's journey: each step of the version it is in, with its message.
func (s *Server) getEnrollment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "enrollment")
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	e, err := s.q.GetEnrollment(ctx, queries.GetEnrollmentParams{AccountID: p.AccountID, ID: id})
	if err != nil {
		return notFoundAs(err, "enrollment")
	}
	raw, err := s.q.GetSequenceVersion(ctx, queries.GetSequenceVersionParams{AccountID: p.AccountID, SequenceID: e.SequenceID, Version: e.Version})
	if err != nil {
		return err
	}
	def, err := drip.Parse(raw)
	if err != nil {
		return err
	}
	msgs, err := s.q.EnrollmentSteps(ctx, queries.EnrollmentStepsParams{AccountID: p.AccountID, EnrollmentID: &id})
	if err != nil {
		return err
	}
	v := viewEnrollment(e)
	v.Steps = journey(def, v, msgs)
	writeJSON(w, http.StatusOK, v)
	return nil
}

func journey(def *drip.Definition, e enrollmentView, msgs []queries.EnrollmentStepsRow) []journeyStep {
	byStep := map[int]queries.EnrollmentStepsRow{}
	for _, m := range msgs {
		if m.Step != nil {
			byStep[int(*m.Step)] = m
		}
	}
	out := make([]journeyStep, len(def.Steps))
	for i, st := range def.Steps {
		j := journeyStep{Step: i, TemplateID: st.TemplateID}
		m, sent := byStep[i]
		switch {
		case sent:
			j.State, j.Reason, j.ErrorCode = string(m.Status), m.Reason, m.ErrorCode
			j.SentAt, j.DeliveredAt, j.ReadAt, j.FailedAt, j.RepliedAt = m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt, m.RepliedAt
			due := m.DueAt
			j.ScheduledAt = &due
		case e.NextRunAt != nil && i == int(e.NextStep):
			j.State, j.ScheduledAt = "next", e.NextRunAt
		case e.Status == queries.EnrollmentStatusActive || e.Status == queries.EnrollmentStatusPaused:
			j.State = "upcoming"
		default:
			j.State = "not_reached"
		}
		out[i] = j
	}
	return out
}

// exitEnrollment takes a contact out of its sequence by hand.
func (s *Server) exitEnrollment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "enrollment")
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	before, err := s.q.GetEnrollment(ctx, queries.GetEnrollmentParams{AccountID: p.AccountID, ID: id})
	if err != nil {
		return notFoundAs(err, "enrollment")
	}
	return s.mutate(w, r, http.StatusOK, "enrollment.exit", "enrollment", func(q *queries.Queries) (change, error) {
		e, err := q.ExitEnrollment(ctx, queries.ExitEnrollmentParams{Reason: "manual", Detail: "by " + p.KeyName, AccountID: p.AccountID, ID: id})
		if isNoRows(err) {
			return change{}, &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the enrollment is " + string(before.Status)}
		}
		if err != nil {
			return change{}, err
		}
		if err := q.SkipUnsentSteps(ctx, []int64{id}); err != nil {
			return change{}, err
		}
		return change{id, viewEnrollment(before), viewEnrollment(e)}, nil
	})
}
