package drip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	accounts "github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/costs"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/media"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// An account's sequences as the API and the console manage them: validated against the account's
// channel and templates, versioned once active, audited.

// SequenceInput is a sequence to make or replace: a name, a channel and the definition.
type SequenceInput struct {
	Name      string `json:"name"`
	ChannelID int64  `json:"channel_id"`
	Definition
	// Incomplete stores a draft whose definition does not pass yet (the console's "save draft");
	// activating it checks it then. A name and a channel are always required.
	Incomplete bool `json:"-"`
}

// SequenceView is a sequence as people see it, with its current version's definition.
type SequenceView struct {
	ID           int64                  `json:"id"`
	Name         string                 `json:"name"`
	ChannelID    int64                  `json:"channel_id"`
	Status       queries.SequenceStatus `json:"status"`
	StatusReason string                 `json:"status_reason"`
	PauseCause   *string                `json:"pause_cause"`
	Version      int32                  `json:"version"`
	CreatedAt    time.Time              `json:"created_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
	Definition
}

// SequenceViewOf is a stored sequence's view.
func SequenceViewOf(s queries.GetSequenceRow) (SequenceView, error) {
	v := SequenceView{ID: s.ID, Name: s.Name, ChannelID: s.ChannelID, Status: s.Status, StatusReason: s.StatusReason,
		PauseCause: s.PauseCause, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	def, err := Parse(s.Definition)
	if err != nil {
		return v, err
	}
	v.Definition = *def
	return v, nil
}

// GetSequence is a sequence of the account.
func GetSequence(ctx context.Context, q *queries.Queries, account, id int64) (SequenceView, error) {
	row, err := q.GetSequence(ctx, queries.GetSequenceParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return SequenceView{}, invalid.NotFound("sequence")
	}
	if err != nil {
		return SequenceView{}, err
	}
	return SequenceViewOf(row)
}

// check validates the input against the account's channel and templates and returns the
// definition to store; a sequence in state (draft for a new one) that may be stored incomplete
// is stored as it is.
func (in *SequenceInput) check(ctx context.Context, q *queries.Queries, account int64, state queries.SequenceStatus) ([]byte, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return nil, invalid.Field("name", "is required, at most 200 characters")
	}
	if _, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: account, ID: in.ChannelID}); errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid.NotFound("channel")
	} else if err != nil {
		return nil, err
	}
	if in.SendWindow == nil { // the account's quiet hours, if it has them
		settings, err := accounts.Settings(ctx, q, account)
		if err != nil {
			return nil, err
		}
		in.SendWindow = settings.SendWindow
	}
	err := checkDefinition(ctx, q, account, in.ChannelID, &in.Definition)
	if _, bad := invalid.As(err); bad && in.Incomplete && state == queries.SequenceStatusDraft {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(in.Definition)
}

// checkDefinition validates a definition against the account's templates and, for a step whose
// media header names an uploaded file, the channel's uploads (media.CheckRefs).
func checkDefinition(ctx context.Context, q *queries.Queries, account, channel int64, def *Definition) error {
	categories := map[int64]string{}
	for i, step := range def.Steps {
		if i >= MaxSteps {
			break
		}
		tpl, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: account, ID: step.TemplateID})
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && tpl.Status != "approved") {
			continue // Check names the step
		}
		if err != nil {
			return err
		}
		merged, err := broadcast.MergedTemplate(tpl, step.Parameters)
		if err == nil {
			err = media.CheckRefs(ctx, q, account, channel, merged, time.Now())
		}
		if err != nil {
			return invalid.Within(fmt.Sprintf("steps[%d]", i), err)
		}
		categories[tpl.ID] = tpl.Category
	}
	return def.Check(func(id int64) string { return categories[id] })
}

// Ready says what keeps a sequence from being activated: nil when nothing does.
func Ready(ctx context.Context, q *queries.Queries, account int64, s SequenceView) error {
	return checkDefinition(ctx, q, account, s.ChannelID, &s.Definition)
}

// CreateSequence makes a draft sequence of by's account.
func CreateSequence(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in SequenceInput) (SequenceView, error) {
	def, err := in.check(ctx, queries.New(db), by.AccountID, queries.SequenceStatusDraft)
	if err != nil {
		return SequenceView{}, err
	}
	var view SequenceView
	err = audit.Change(ctx, db, by, "sequence.create", "sequence", func(q *queries.Queries) (int64, any, any, error) {
		seq, err := q.CreateSequence(ctx, queries.CreateSequenceParams{AccountID: by.AccountID, ChannelID: in.ChannelID,
			Name: in.Name, TriggerEvent: in.TriggerEvent()})
		if err != nil {
			return 0, nil, nil, err
		}
		if err := q.InsertSequenceVersion(ctx, queries.InsertSequenceVersionParams{SequenceID: seq.ID, Version: 1,
			AccountID: by.AccountID, Definition: def}); err != nil {
			return 0, nil, nil, err
		}
		view, err = GetSequence(ctx, q, by.AccountID, seq.ID)
		return seq.ID, nil, view, err
	})
	return view, err
}

// UpdateSequence replaces the definition: in place for a draft; as a new version for an active
// or paused sequence, which applies to new enrollments while enrolled contacts keep theirs.
func UpdateSequence(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, in SequenceInput) (SequenceView, error) {
	before, err := GetSequence(ctx, queries.New(db), by.AccountID, id)
	if err != nil {
		return SequenceView{}, err
	}
	def, err := in.check(ctx, queries.New(db), by.AccountID, before.Status)
	if err != nil {
		return SequenceView{}, err
	}
	if before.Status == queries.SequenceStatusArchived {
		return SequenceView{}, invalid.Conflict("an archived sequence cannot be edited")
	}
	var view SequenceView
	err = audit.Change(ctx, db, by, "sequence.update", "sequence", func(q *queries.Queries) (int64, any, any, error) {
		version := before.Version
		var err error
		if before.Status == queries.SequenceStatusDraft {
			err = q.ReplaceSequenceVersion(ctx, queries.ReplaceSequenceVersionParams{Definition: def, AccountID: by.AccountID,
				SequenceID: id, Version: version})
		} else {
			version++
			err = q.InsertSequenceVersion(ctx, queries.InsertSequenceVersionParams{SequenceID: id, Version: version,
				AccountID: by.AccountID, Definition: def})
		}
		if err != nil {
			return 0, nil, nil, err
		}
		if _, err := q.UpdateSequence(ctx, queries.UpdateSequenceParams{Name: in.Name, ChannelID: in.ChannelID,
			TriggerEvent: in.TriggerEvent(), Version: version, AccountID: by.AccountID, ID: id}); errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, nil, invalid.NotFound("sequence")
		} else if err != nil {
			return 0, nil, nil, err
		}
		view, err = GetSequence(ctx, q, by.AccountID, id)
		return id, before, view, err
	})
	return view, err
}

// What can be done to a sequence besides editing it.
const (
	ActionActivate = "activate"
	ActionPause    = "pause"
	ActionResume   = "resume"
	ActionArchive  = "archive"
)

// Move activates a draft (one whose definition passes), pauses or resumes a sequence, or archives it (its enrollments end and
// their unsent steps are skipped).
func Move(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, action string) (SequenceView, error) {
	var view SequenceView
	err := audit.Change(ctx, db, by, "sequence."+action, "sequence", func(q *queries.Queries) (int64, any, any, error) {
		before, err := GetSequence(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		switch action {
		case ActionPause:
			_, err = q.PauseSequence(ctx, queries.PauseSequenceParams{AccountID: by.AccountID, ID: id, Reason: "paused by " + by.Name,
				PauseCause: policy.PausedByUser.Column()})
		case ActionResume:
			_, err = q.ResumeSequence(ctx, queries.ResumeSequenceParams{AccountID: by.AccountID, ID: id})
		case ActionActivate:
			if err := Ready(ctx, q, by.AccountID, before); err != nil {
				return 0, nil, nil, err
			}
			_, err = q.SetSequenceStatus(ctx, queries.SetSequenceStatusParams{Status: queries.SequenceStatusActive, AccountID: by.AccountID,
				ID: id, FromStatuses: []queries.SequenceStatus{queries.SequenceStatusDraft}})
		case ActionArchive:
			if _, err = q.SetSequenceStatus(ctx, queries.SetSequenceStatusParams{Status: queries.SequenceStatusArchived, AccountID: by.AccountID,
				ID: id, FromStatuses: []queries.SequenceStatus{queries.SequenceStatusDraft, queries.SequenceStatusActive,
					queries.SequenceStatusPaused}}); err == nil {
				err = archiveEnrollments(ctx, q, id)
			}
		default:
			return 0, nil, nil, invalid.NotFound("action")
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, nil, invalid.Conflict("cannot %s a sequence that is %s", action, before.Status)
		}
		if err != nil {
			return 0, nil, nil, err
		}
		view, err = GetSequence(ctx, q, by.AccountID, id)
		return id, before, view, err
	})
	return view, err
}

func archiveEnrollments(ctx context.Context, q *queries.Queries, id int64) error {
	ended, err := q.ArchiveEnrollments(ctx, id)
	if err != nil || len(ended) == 0 {
		return err
	}
	return q.SkipUnsentSteps(ctx, ended)
}

// SequenceReport is a sequence's analytics: its enrollments by state and exit reason, and the
// funnel of each step.
type SequenceReport struct {
	Enrolled   int64            `json:"enrolled"`
	InProgress int64            `json:"in_progress"`
	Completed  int64            `json:"completed"`
	Exited     map[string]int64 `json:"exited"` // by reason: success, failure, replied, opted_out, error, archived, manual
	Steps      []StepReport     `json:"steps"`
}

// StepReport is one step's funnel.
type StepReport struct {
	Step int `json:"step"`
	broadcast.Report
	Billing *costs.Billing `json:"billing,omitempty"` // when Meta reported billable messages of the step
}

// LoadReport reads a sequence's report.
func LoadReport(ctx context.Context, q *queries.Queries, account, id int64) (SequenceReport, error) {
	counts, err := q.SequenceEnrollmentCounts(ctx, queries.SequenceEnrollmentCountsParams{AccountID: account, SequenceID: id})
	if err != nil {
		return SequenceReport{}, err
	}
	rep := SequenceReport{Exited: map[string]int64{}, Steps: []StepReport{}}
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
	funnel, err := q.SequenceStepFunnel(ctx, queries.SequenceStepFunnelParams{AccountID: account, SequenceID: id})
	if err != nil {
		return rep, err
	}
	byStep := map[int32][]queries.BroadcastFunnelRow{}
	var steps []int32
	for _, f := range funnel {
		if _, ok := byStep[f.Step]; !ok {
			steps = append(steps, f.Step)
		}
		byStep[f.Step] = append(byStep[f.Step], queries.BroadcastFunnelRow{Status: f.Status, Reason: f.Reason,
			ErrorCode: f.ErrorCode, Settled: f.Settled, N: f.N, Replied: f.Replied, WithSent: f.WithSent})
	}
	billing, err := costs.OfSequence(ctx, q, account, id)
	if err != nil {
		return rep, err
	}
	for _, step := range steps {
		rep.Steps = append(rep.Steps, StepReport{Step: int(step), Report: broadcast.NewReport(byStep[step], 0), Billing: billing[int(step)]})
	}
	return rep, nil
}
