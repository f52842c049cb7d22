package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/templates"
)

// broadcastInput is the body of POST and PUT /v1/broadcasts.
type broadcastInput struct {
	Name           string             `json:"name"`
	ChannelID      int64              `json:"channel_id"`
	TemplateID     int64              `json:"template_id"`
	Parameters     templates.Mapping  `json:"parameters"`
	Audience       broadcast.Audience `json:"audience"`
	DefaultCountry string             `json:"default_country"`
	SendWindow     *policy.Window     `json:"send_window"`
	Draft          bool               `json:"draft"`
	broadcast.Timing
}

// checked is a validated broadcast, ready to store.
type checked struct {
	params   queries.CreateBroadcastParams
	estimate broadcast.Estimate
}

// check validates the input against the account's channel, template and audience.
func (s *Server) checkBroadcast(r *http.Request, in broadcastInput) (checked, error) {
	ctx, p := r.Context(), caller(r.Context())
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return checked{}, errValidation("name", "name is required, at most 200 characters")
	}
	if _, err := s.q.GetChannel(ctx, queries.GetChannelParams{AccountID: p.AccountID, ID: in.ChannelID}); err != nil {
		return checked{}, notFoundAs(err, "channel")
	}
	tpl, err := s.q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: p.AccountID, ID: in.TemplateID})
	if err != nil {
		return checked{}, notFoundAs(err, "template")
	}
	if tpl.Status != "approved" {
		return checked{}, errValidation("template_id", "the template is %s; only approved templates can be sent", tpl.Status)
	}
	if err := checkOverrides(tpl, in.Parameters); err != nil {
		return checked{}, err
	}
	unreadable, err := in.Audience.Normalize(in.DefaultCountry)
	if err != nil {
		return checked{}, err
	}
	if len(unreadable) > 0 {
		return checked{}, &Error{Status: http.StatusBadRequest, Code: CodeValidation, Field: "audience.phones",
			Message: fmt.Sprintf("%d phone numbers are not valid", len(unreadable)), Details: map[string]any{"invalid": unreadable}}
	}
	c := checked{params: queries.CreateBroadcastParams{AccountID: p.AccountID, ChannelID: in.ChannelID, TemplateID: in.TemplateID,
		Name: in.Name, Status: queries.BroadcastStatusScheduled}}
	if err := in.Timing.Apply(&c.params, time.Now()); err != nil {
		return checked{}, err
	}
	if in.Draft {
		c.params.Status = queries.BroadcastStatusDraft
	}
	if in.SendWindow != nil {
		if c.params.SendWindow, err = in.SendWindow.Encode(); err != nil {
			return checked{}, invalid.Within("send_window", err)
		}
	}
	c.params.Audience, _ = json.Marshal(in.Audience)
	if in.Parameters == nil {
		in.Parameters = templates.Mapping{}
	}
	c.params.Parameters, _ = json.Marshal(in.Parameters)
	c.estimate, err = broadcast.EstimateAudience(ctx, s.db, s.q, p.AccountID, in.Audience, tpl.Category == "marketing")
	if err != nil {
		return checked{}, err
	}
	c.params.AudienceCount = int32(c.estimate.Matching)
	return c, nil
}

// checkOverrides validates the broadcast's parameter mapping merged over the template's.
func checkOverrides(tpl queries.Template, overrides templates.Mapping) error {
	var t templates.Template
	t.Name, t.Language, t.Category, t.Status = tpl.Name, tpl.Language, tpl.Category, tpl.Status
	if err := json.Unmarshal(tpl.Components, &t.Components); err != nil {
		return err
	}
	if err := json.Unmarshal(tpl.Parameters, &t.Parameters); err != nil {
		return err
	}
	for k, v := range overrides {
		t.Parameters[k] = v
	}
	return t.Validate()
}

type broadcastView struct {
	ID            int64                   `json:"id"`
	Name          string                  `json:"name"`
	ChannelID     int64                   `json:"channel_id"`
	TemplateID    int64                   `json:"template_id"`
	Status        queries.BroadcastStatus `json:"status"`
	StatusReason  string                  `json:"status_reason"`
	PauseCause    *string                 `json:"pause_cause"`
	Audience      json.RawMessage         `json:"audience"`
	Parameters    json.RawMessage         `json:"parameters"`
	SendAt        *time.Time              `json:"send_at"`
	LocalDate     *string                 `json:"local_date"`
	LocalTime     *string                 `json:"local_time"`
	SendWindow    *policy.Window          `json:"send_window"`
	RateCap       *int32                  `json:"rate_cap"`
	ExpiresAt     *time.Time              `json:"expires_at"`
	AudienceCount int32                   `json:"audience_count"`
	Estimate      *broadcast.Estimate     `json:"audience_estimate,omitempty"`
	RetryOf       *int64                  `json:"retry_of"`
	CreatedAt     time.Time               `json:"created_at"`
	StartedAt     *time.Time              `json:"started_at"`
	FinishedAt    *time.Time              `json:"finished_at"`
}

func viewBroadcast(b queries.Broadcast) broadcastView {
	v := broadcastView{ID: b.ID, Name: b.Name, ChannelID: b.ChannelID, TemplateID: b.TemplateID, Status: b.Status,
		StatusReason: b.StatusReason, PauseCause: b.PauseCause, Audience: b.Audience, Parameters: b.Parameters, SendAt: b.SendAt, RateCap: b.RateCap,
		ExpiresAt: b.ExpiresAt, AudienceCount: b.AudienceCount, SendWindow: policy.DecodeWindow(b.SendWindow), RetryOf: b.RetryOf, CreatedAt: b.CreatedAt,
		StartedAt: b.StartedAt, FinishedAt: b.FinishedAt}
	if b.LocalDate.Valid && b.LocalTime.Valid {
		d := b.LocalDate.Time.Format(time.DateOnly)
		m := b.LocalTime.Microseconds / 60e6
		t := fmt.Sprintf("%02d:%02d", m/60, m%60)
		v.LocalDate, v.LocalTime = &d, &t
	}
	return v
}

func (s *Server) createBroadcast(w http.ResponseWriter, r *http.Request) error {
	var in broadcastInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	c, err := s.checkBroadcast(r, in)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var b queries.Broadcast
	err = s.inTx(ctx, func(q *queries.Queries) error {
		if b, err = q.CreateBroadcast(ctx, c.params); err != nil {
			return err
		}
		return s.audit(ctx, q, "broadcast.create", "broadcast", b.ID, nil, viewBroadcast(b))
	})
	if err != nil {
		return err
	}
	v := viewBroadcast(b)
	v.Estimate = &c.estimate
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) loadBroadcast(r *http.Request) (queries.Broadcast, error) {
	id, err := pathID(r, "broadcast")
	if err != nil {
		return queries.Broadcast{}, err
	}
	b, err := s.q.GetBroadcast(r.Context(), queries.GetBroadcastParams{AccountID: caller(r.Context()).AccountID, ID: id})
	return b, notFoundAs(err, "broadcast")
}

func (s *Server) getBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBroadcast(b))
	return nil
}

func (s *Server) listBroadcasts(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Broadcast, error) {
		return s.q.ListBroadcasts(r.Context(), queries.ListBroadcastsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(viewBroadcast), func(v broadcastView) int64 { return v.ID })
}

// updateBroadcast edits a broadcast that has not started; "draft": false schedules a draft.
func (s *Server) updateBroadcast(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	if before.Status != queries.BroadcastStatusDraft && before.Status != queries.BroadcastStatusScheduled {
		return errState("edited", before.Status)
	}
	var in broadcastInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	c, err := s.checkBroadcast(r, in)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	cp := c.params
	var b queries.Broadcast
	err = s.inTx(ctx, func(q *queries.Queries) error {
		b, err = q.UpdateScheduledBroadcast(ctx, queries.UpdateScheduledBroadcastParams{Status: cp.Status, Name: cp.Name, ChannelID: cp.ChannelID,
			TemplateID: cp.TemplateID, Audience: cp.Audience, Parameters: cp.Parameters, SendAt: cp.SendAt, LocalDate: cp.LocalDate,
			LocalTime: cp.LocalTime, SendWindow: cp.SendWindow, RateCap: cp.RateCap, ExpiresAt: cp.ExpiresAt, AudienceCount: cp.AudienceCount,
			AccountID: p.AccountID, ID: before.ID})
		if errors.Is(err, pgx.ErrNoRows) {
			return errState("edited", "started")
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, q, "broadcast.update", "broadcast", b.ID, viewBroadcast(before), viewBroadcast(b))
	})
	if err != nil {
		return err
	}
	v := viewBroadcast(b)
	v.Estimate = &c.estimate
	writeJSON(w, http.StatusOK, v)
	return nil
}

func errState(action string, status queries.BroadcastStatus) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf("a %s broadcast cannot be %s", status, action)}
}

// transitions: the states each action leaves from, and where it goes.
var transitions = map[string]struct {
	from []queries.BroadcastStatus
	to   queries.BroadcastStatus
}{
	"pause": {[]queries.BroadcastStatus{queries.BroadcastStatusScheduled, queries.BroadcastStatusRunning}, queries.BroadcastStatusPaused},
	"cancel": {[]queries.BroadcastStatus{queries.BroadcastStatusDraft, queries.BroadcastStatusScheduled, queries.BroadcastStatusRunning,
		queries.BroadcastStatusPaused}, queries.BroadcastStatusCancelled},
}

func (s *Server) pauseBroadcast(w http.ResponseWriter, r *http.Request) error {
	return s.transition(w, r, "pause")
}
func (s *Server) cancelBroadcast(w http.ResponseWriter, r *http.Request) error {
	return s.transition(w, r, "cancel")
}

// resumeBroadcast continues where a pause stopped: running if it had started, else scheduled.
func (s *Server) resumeBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	to := queries.BroadcastStatusScheduled
	if b.StartedAt != nil {
		to = queries.BroadcastStatusRunning
	}
	return s.move(w, r, b, "resume", []queries.BroadcastStatus{queries.BroadcastStatusPaused}, to)
}

func (s *Server) transition(w http.ResponseWriter, r *http.Request, action string) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	t := transitions[action]
	return s.move(w, r, b, action, t.from, t.to)
}

func (s *Server) move(w http.ResponseWriter, r *http.Request, before queries.Broadcast, action string, from []queries.BroadcastStatus, to queries.BroadcastStatus) error {
	ctx, p := r.Context(), caller(r.Context())
	reason := ""
	if to == queries.BroadcastStatusPaused || to == queries.BroadcastStatusCancelled {
		reason = string(to) + " by " + p.KeyName
	}
	var b queries.Broadcast
	err := s.inTx(ctx, func(q *queries.Queries) error {
		var err error
		b, err = q.SetBroadcastStatus(ctx, queries.SetBroadcastStatusParams{Status: to, Reason: reason,
			PauseCause: policy.PausedByUser.Column(), AccountID: p.AccountID, ID: before.ID, FromStatuses: from})
		if errors.Is(err, pgx.ErrNoRows) {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf("cannot %s a %s broadcast", action, before.Status)}
		}
		if err != nil {
			return err
		}
		if to == queries.BroadcastStatusCancelled {
			if _, err := q.CancelUnsent(ctx, queries.CancelUnsentParams{AccountID: p.AccountID, BroadcastID: &b.ID}); err != nil {
				return err
			}
		}
		return s.audit(ctx, q, "broadcast."+action, "broadcast", b.ID, map[string]any{"status": before.Status}, map[string]any{"status": b.Status})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBroadcast(b))
	return nil
}
