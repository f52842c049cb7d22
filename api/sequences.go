package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// sequenceInput is the body of POST and PUT /v1/sequences: a name, a channel and the definition.
type sequenceInput struct {
	Name      string `json:"name"`
	ChannelID int64  `json:"channel_id"`
	drip.Definition
}

type sequenceView struct {
	ID           int64                  `json:"id"`
	Name         string                 `json:"name"`
	ChannelID    int64                  `json:"channel_id"`
	Status       queries.SequenceStatus `json:"status"`
	StatusReason string                 `json:"status_reason"`
	PauseCause   *string                `json:"pause_cause"`
	Version      int32                  `json:"version"`
	CreatedAt    time.Time              `json:"created_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
	drip.Definition
}

func viewSequence(s queries.GetSequenceRow) (sequenceView, error) {
	v := sequenceView{ID: s.ID, Name: s.Name, ChannelID: s.ChannelID, Status: s.Status, StatusReason: s.StatusReason,
		PauseCause: s.PauseCause, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	def, err := drip.Parse(s.Definition)
	if err != nil {
		return v, err
	}
	v.Definition = *def
	return v, nil
}

// checkSequence validates the input against the account's channel and templates and returns
// the definition to store.
func (s *Server) checkSequence(r *http.Request, in *sequenceInput) ([]byte, error) {
	ctx, p := r.Context(), caller(r.Context())
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return nil, errValidation("name", "name is required, at most 200 characters")
	}
	if _, err := s.q.GetChannel(ctx, queries.GetChannelParams{AccountID: p.AccountID, ID: in.ChannelID}); err != nil {
		return nil, notFoundAs(err, "channel")
	}
	categories := map[int64]string{}
	for i, step := range in.Steps {
		if i >= drip.MaxSteps {
			break
		}
		tpl, err := s.q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: p.AccountID, ID: step.TemplateID})
		if isNoRows(err) || (err == nil && tpl.Status != "approved") {
			continue // Check names the step
		}
		if err != nil {
			return nil, err
		}
		if _, err := broadcast.MergedTemplate(tpl, step.Parameters); err != nil {
			return nil, invalid.Within(fmt.Sprintf("steps[%d]", i), err)
		}
		categories[tpl.ID] = tpl.Category
	}
	if err := in.Check(func(id int64) string { return categories[id] }); err != nil {
		return nil, err
	}
	return json.Marshal(in.Definition)
}

func (s *Server) createSequence(w http.ResponseWriter, r *http.Request) error {
	var in sequenceInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	def, err := s.checkSequence(r, &in)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusCreated, "sequence.create", "sequence", func(q *queries.Queries) (change, error) {
		seq, err := q.CreateSequence(ctx, queries.CreateSequenceParams{AccountID: p.AccountID, ChannelID: in.ChannelID,
			Name: in.Name, TriggerEvent: in.TriggerEvent()})
		if err != nil {
			return change{}, err
		}
		if err := q.InsertSequenceVersion(ctx, queries.InsertSequenceVersionParams{SequenceID: seq.ID, Version: 1,
			AccountID: p.AccountID, Definition: def}); err != nil {
			return change{}, err
		}
		after, err := s.sequenceIn(r, q, seq.ID)
		return change{seq.ID, nil, after}, err
	})
}

// sequenceIn reads a sequence of the caller's account through q.
func (s *Server) sequenceIn(r *http.Request, q *queries.Queries, id int64) (sequenceView, error) {
	row, err := q.GetSequence(r.Context(), queries.GetSequenceParams{AccountID: caller(r.Context()).AccountID, ID: id})
	if err != nil {
		return sequenceView{}, notFoundAs(err, "sequence")
	}
	return viewSequence(row)
}

func (s *Server) loadSequence(r *http.Request) (sequenceView, error) {
	id, err := pathID(r, "sequence")
	if err != nil {
		return sequenceView{}, err
	}
	return s.sequenceIn(r, s.q, id)
}

func (s *Server) getSequence(w http.ResponseWriter, r *http.Request) error {
	v, err := s.loadSequence(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listSequences(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.ListSequencesRow, error) {
		return s.q.ListSequences(r.Context(), queries.ListSequencesParams{AccountID: account, After: after, Lim: lim})
	}, func(row queries.ListSequencesRow) (sequenceView, error) {
		return viewSequence(queries.GetSequenceRow(row))
	}, func(v sequenceView) int64 { return v.ID })
}

// updateSequence replaces the definition: in place for a draft; as a new version for an active
// or paused sequence, which applies to new enrollments while enrolled contacts keep theirs.
func (s *Server) updateSequence(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadSequence(r)
	if err != nil {
		return err
	}
	var in sequenceInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	def, err := s.checkSequence(r, &in)
	if err != nil {
		return err
	}
	if before.Status == queries.SequenceStatusArchived {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "an archived sequence cannot be edited"}
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusOK, "sequence.update", "sequence", func(q *queries.Queries) (change, error) {
		version := before.Version
		var err error
		if before.Status == queries.SequenceStatusDraft {
			err = q.ReplaceSequenceVersion(ctx, queries.ReplaceSequenceVersionParams{Definition: def, AccountID: p.AccountID,
				SequenceID: before.ID, Version: version})
		} else {
			version++
			err = q.InsertSequenceVersion(ctx, queries.InsertSequenceVersionParams{SequenceID: before.ID, Version: version,
				AccountID: p.AccountID, Definition: def})
		}
		if err != nil {
			return change{}, err
		}
		if _, err := q.UpdateSequence(ctx, queries.UpdateSequenceParams{Name: in.Name, ChannelID: in.ChannelID,
			TriggerEvent: in.TriggerEvent(), Version: version, AccountID: p.AccountID, ID: before.ID}); err != nil {
			return change{}, notFoundAs(err, "sequence")
		}
		after, err := s.sequenceIn(r, q, before.ID)
		return change{before.ID, before, after}, err
	})
}

func (s *Server) activateSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, "activate")
}
func (s *Server) pauseSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, "pause")
}
func (s *Server) resumeSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, "resume")
}
func (s *Server) archiveSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, "archive")
}

func (s *Server) moveSequence(w http.ResponseWriter, r *http.Request, action string) error {
	before, err := s.loadSequence(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusOK, "sequence."+action, "sequence", func(q *queries.Queries) (change, error) {
		var err error
		switch action {
		case "pause":
			_, err = q.PauseSequence(ctx, queries.PauseSequenceParams{AccountID: p.AccountID, ID: before.ID, Reason: "paused by " + p.KeyName,
				PauseCause: policy.PausedByUser.Column()})
		case "resume":
			_, err = q.ResumeSequence(ctx, queries.ResumeSequenceParams{AccountID: p.AccountID, ID: before.ID})
		case "activate":
			_, err = q.SetSequenceStatus(ctx, queries.SetSequenceStatusParams{Status: queries.SequenceStatusActive, AccountID: p.AccountID,
				ID: before.ID, FromStatuses: []queries.SequenceStatus{queries.SequenceStatusDraft}})
		case "archive":
			if _, err = q.SetSequenceStatus(ctx, queries.SetSequenceStatusParams{Status: queries.SequenceStatusArchived, AccountID: p.AccountID,
				ID: before.ID, FromStatuses: []queries.SequenceStatus{queries.SequenceStatusDraft, queries.SequenceStatusActive,
					queries.SequenceStatusPaused}}); err == nil {
				err = s.archiveEnrollments(r, q, before.ID)
			}
		}
		if isNoRows(err) {
			return change{}, &Error{Status: http.StatusConflict, Code: CodeConflict,
				Message: "cannot " + action + " a sequence that is " + string(before.Status)}
		}
		if err != nil {
			return change{}, err
		}
		after, err := s.sequenceIn(r, q, before.ID)
		return change{before.ID, before, after}, err
	})
}

func (s *Server) archiveEnrollments(r *http.Request, q *queries.Queries, id int64) error {
	ended, err := q.ArchiveEnrollments(r.Context(), id)
	if err != nil || len(ended) == 0 {
		return err
	}
	return q.SkipUnsentSteps(r.Context(), ended)
}

// sequenceReport is a sequence's analytics: its enrollments by state and exit reason, and the
// funnel of each step.
type sequenceReport struct {
	Enrolled   int64            `json:"enrolled"`
	InProgress int64            `json:"in_progress"`
	Completed  int64            `json:"completed"`
	Exited     map[string]int64 `json:"exited"` // by reason: success, failure, replied, opted_out, error, archived, manual
	Steps      []stepReport     `json:"steps"`
}

type stepReport struct {
	Step int `json:"step"`
	broadcast.Report
}

func (s *Server) sequenceReport(w http.ResponseWriter, r *http.Request) error {
	seq, err := s.loadSequence(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	counts, err := s.q.SequenceEnrollmentCounts(ctx, queries.SequenceEnrollmentCountsParams{AccountID: p.AccountID, SequenceID: seq.ID})
	if err != nil {
		return err
	}
	rep := sequenceReport{Exited: map[string]int64{}, Steps: []stepReport{}}
	for _, c := range counts {
		rep.Enrolled += c.N
		switch c.Status {
		case queries.EnrollmentStatusActive, queries.EnrollmentStatusPaused:
			rep.InProgress += c.N
		case queries.EnrollmentStatusCompleted:
			rep.Completed += c.N
		case queries.EnrollmentStatusExited:
			rep.Exited[c.ExitReason] += c.N
		}
	}
	funnel, err := s.q.SequenceStepFunnel(ctx, queries.SequenceStepFunnelParams{AccountID: p.AccountID, SequenceID: seq.ID})
	if err != nil {
		return err
	}
	byStep := map[int32][]queries.BroadcastFunnelRow{}
	var steps []int32
	for _, f := range funnel {
		if _, ok := byStep[f.Step]; !ok {
			steps = append(steps, f.Step)
		}
		byStep[f.Step] = append(byStep[f.Step], queries.BroadcastFunnelRow{Status: f.Status, Reason: f.Reason,
			ErrorCode: f.ErrorCode, N: f.N, Replied: f.Replied, WithSent: f.WithSent})
	}
	for _, step := range steps {
		rep.Steps = append(rep.Steps, stepReport{Step: int(step), Report: broadcast.NewReport(byStep[step], 0)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sequence_id": seq.ID, "status": seq.Status, "report": rep})
	return nil
}
