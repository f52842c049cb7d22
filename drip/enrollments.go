package drip

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// Enrollments as the API and the console manage them by hand: enroll a contact, take one out,
// and follow a contact's journey through the steps.

// EnrollmentView is an enrollment as people see it; Steps is its journey, when asked for.
type EnrollmentView struct {
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
	Steps      []JourneyStep            `json:"steps,omitempty"`
}

// ViewEnrollment is a stored enrollment's view: a finished one has no next run.
func ViewEnrollment(e queries.Enrollment) EnrollmentView {
	v := EnrollmentView{ID: e.ID, SequenceID: e.SequenceID, Version: e.Version, ContactID: e.ContactID, Status: e.Status,
		ExitReason: e.ExitReason, ExitDetail: e.ExitDetail, NextStep: e.NextStep, NextRunAt: e.NextRunAt,
		Properties: e.Properties, EventID: e.EventID, EnrolledAt: e.EnrolledAt, FinishedAt: e.FinishedAt, LastStepAt: e.LastStepAt}
	if !v.InProgress() {
		v.NextRunAt = nil
	}
	return v
}

// InProgress says whether the enrollment may still send.
func (v EnrollmentView) InProgress() bool {
	return v.Status == queries.EnrollmentStatusActive || v.Status == queries.EnrollmentStatusPaused
}

// JourneyStep is one step of a contact's journey: what its message did, or when it will run.
type JourneyStep struct {
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

// GetEnrollment is an enrollment of the account.
func GetEnrollment(ctx context.Context, q *queries.Queries, account, id int64) (queries.Enrollment, error) {
	e, err := q.GetEnrollment(ctx, queries.GetEnrollmentParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return e, invalid.NotFound("enrollment")
	}
	return e, err
}

// Journey is an enrollment with each step of the version it is in, and that step's message.
func Journey(ctx context.Context, q *queries.Queries, account, id int64) (EnrollmentView, error) {
	e, err := GetEnrollment(ctx, q, account, id)
	if err != nil {
		return EnrollmentView{}, err
	}
	raw, err := q.GetSequenceVersion(ctx, queries.GetSequenceVersionParams{AccountID: account, SequenceID: e.SequenceID, Version: e.Version})
	if err != nil {
		return EnrollmentView{}, err
	}
	def, err := Parse(raw)
	if err != nil {
		return EnrollmentView{}, err
	}
	msgs, err := q.EnrollmentSteps(ctx, queries.EnrollmentStepsParams{AccountID: account, EnrollmentID: &id})
	if err != nil {
		return EnrollmentView{}, err
	}
	v := ViewEnrollment(e)
	v.Steps = journey(def, v, msgs)
	return v, nil
}

func journey(def *Definition, e EnrollmentView, msgs []queries.EnrollmentStepsRow) []JourneyStep {
	byStep := map[int]queries.EnrollmentStepsRow{}
	for _, m := range msgs {
		if m.Step != nil {
			byStep[int(*m.Step)] = m
		}
	}
	out := make([]JourneyStep, len(def.Steps))
	for i, st := range def.Steps {
		j := JourneyStep{Step: i, TemplateID: st.TemplateID}
		m, sent := byStep[i]
		switch {
		case sent:
			j.State, j.Reason, j.ErrorCode = string(m.Status), m.Reason, m.ErrorCode
			j.SentAt, j.DeliveredAt, j.ReadAt, j.FailedAt, j.RepliedAt = m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt, m.RepliedAt
			due := m.DueAt
			j.ScheduledAt = &due
		case e.NextRunAt != nil && i == int(e.NextStep):
			j.State, j.ScheduledAt = "next", e.NextRunAt
		case e.InProgress():
			j.State = "upcoming"
		default:
			j.State = "not_reached"
		}
		out[i] = j
	}
	return out
}

// EnrollByHand puts one contact of by's account into an active sequence, with the event
// properties its templates may read; a refusal (start condition, run once, cooling) is a conflict
// whose Details name the reason.
func (e *Engine) EnrollByHand(ctx context.Context, by audit.Actor, seqID, contactID int64, props map[string]any) (EnrollmentView, error) {
	if err := CheckProperties(props); err != nil {
		return EnrollmentView{}, invalid.Field("properties", "%s", err.Error())
	}
	seq, err := e.q.GetSequenceForEnrollment(ctx, queries.GetSequenceForEnrollmentParams{AccountID: by.AccountID, ID: seqID})
	if errors.Is(err, pgx.ErrNoRows) {
		return EnrollmentView{}, invalid.NotFound("sequence")
	} else if err != nil {
		return EnrollmentView{}, err
	}
	if seq.Status != queries.SequenceStatusActive {
		return EnrollmentView{}, invalid.Conflict("the sequence is %s; only an active sequence enrolls", seq.Status)
	}
	def, err := Parse(seq.Definition)
	if err != nil {
		return EnrollmentView{}, err
	}
	var view EnrollmentView
	// Not audit.Change: the start condition is read in the same transaction, through tx.
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		id, why, err := e.Enroll(ctx, tx, Sequence{ID: seq.ID, AccountID: by.AccountID, Version: seq.Version, Def: def}, contactID, props, nil)
		if err != nil {
			return err
		}
		if id == 0 {
			refused := invalid.Conflict("the contact was not enrolled: %s", why)
			refused.Details = map[string]string{"reason": why}
			return refused
		}
		q := queries.New(tx)
		row, err := GetEnrollment(ctx, q, by.AccountID, id)
		if err != nil {
			return err
		}
		view = ViewEnrollment(row)
		return audit.Record(ctx, q, by, "enrollment.create", "enrollment", id, nil, view)
	})
	if err == nil {
		e.Enrolled(1)
	}
	return view, err
}

// ExitByHand takes a contact out of its sequence; its unsent steps are skipped.
func ExitByHand(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) (EnrollmentView, error) {
	var view EnrollmentView
	err := audit.Change(ctx, db, by, "enrollment.exit", "enrollment", func(q *queries.Queries) (int64, any, any, error) {
		before, err := GetEnrollment(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		e, err := q.ExitEnrollment(ctx, queries.ExitEnrollmentParams{Reason: "manual", Detail: "by " + by.Name, AccountID: by.AccountID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, nil, invalid.Conflict("the enrollment is %s", before.Status)
		}
		if err != nil {
			return 0, nil, nil, err
		}
		if err := q.SkipUnsentSteps(ctx, []int64{id}); err != nil {
			return 0, nil, nil, err
		}
		view = ViewEnrollment(e)
		return id, ViewEnrollment(before), view, nil
	})
	return view, err
}
