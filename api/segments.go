package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

// previewSample is how many matching contacts a preview shows.
const previewSample = 10

type segmentView struct {
	ID        int64           `json:"id"`
	Name      string          `json:"name"`
	Rules     json.RawMessage `json:"rules"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func viewSegment(s queries.Segment) segmentView {
	return segmentView{ID: s.ID, Name: s.Name, Rules: s.Rules, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type segmentInput struct {
	Name  string          `json:"name"`
	Rules json.RawMessage `json:"rules"`
}

// check validates the name and compiles the rules, and returns them re-encoded (normalized).
func (in *segmentInput) check() error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return errValidation("name", "name is required, at most 200 characters")
	}
	if len(in.Rules) == 0 {
		return errValidation("rules", `rules are required, for example {"all":[{"field":"opted_in","op":"eq","value":true}]}`)
	}
	rule, err := segment.Parse(in.Rules)
	if err != nil {
		return invalid.Within("rules", err)
	}
	in.Rules, _ = json.Marshal(rule)
	return nil
}

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) error {
	var in segmentInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusCreated, "segment.create", "segment", func(q *queries.Queries) (change, error) {
		seg, err := q.CreateSegment(ctx, queries.CreateSegmentParams{AccountID: p.AccountID, Name: in.Name, Rules: in.Rules})
		if err != nil {
			return change{}, conflictAs(err, "a segment with this name exists")
		}
		return change{seg.ID, nil, viewSegment(seg)}, nil
	})
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request) error {
	seg, err := s.loadSegment(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewSegment(seg))
	return nil
}

func (s *Server) loadSegment(r *http.Request) (queries.Segment, error) {
	id, err := pathID(r, "segment")
	if err != nil {
		return queries.Segment{}, err
	}
	seg, err := s.q.GetSegment(r.Context(), queries.GetSegmentParams{AccountID: caller(r.Context()).AccountID, ID: id})
	return seg, notFoundAs(err, "segment")
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Segment, error) {
		return s.q.ListSegments(r.Context(), queries.ListSegmentsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(viewSegment), func(v segmentView) int64 { return v.ID })
}

func (s *Server) updateSegment(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadSegment(r)
	if err != nil {
		return err
	}
	var in segmentInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusOK, "segment.update", "segment", func(q *queries.Queries) (change, error) {
		seg, err := q.UpdateSegment(ctx, queries.UpdateSegmentParams{AccountID: p.AccountID, ID: before.ID, Name: in.Name, Rules: in.Rules})
		if err != nil {
			return change{}, conflictAs(notFoundAs(err, "segment"), "a segment with this name exists")
		}
		return change{seg.ID, viewSegment(before), viewSegment(seg)}, nil
	})
}

func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadSegment(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusNoContent, "segment.delete", "segment", func(q *queries.Queries) (change, error) {
		n, err := q.DeleteSegment(ctx, queries.DeleteSegmentParams{AccountID: p.AccountID, ID: before.ID})
		if err == nil && n == 0 {
			err = errNotFound("segment")
		}
		return change{before.ID, viewSegment(before), nil}, err
	})
}

type previewView struct {
	Count  int64           `json:"count"`
	Sample []contacts.View `json:"sample"`
}

func (s *Server) previewSegment(w http.ResponseWriter, r *http.Request) error {
	seg, err := s.loadSegment(r)
	if err != nil {
		return err
	}
	return s.preview(w, r, seg.Rules)
}

// previewRules previews rules that are not saved yet, as a marketer edits them.
func (s *Server) previewRules(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Rules json.RawMessage `json:"rules"`
	}
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if len(in.Rules) == 0 {
		return errValidation("rules", "rules are required")
	}
	return s.preview(w, r, in.Rules)
}

// preview counts and samples the contacts the rules match. A role that sees phones masked cannot
// preview rules that read the phone: their count would tell the number.
func (s *Server) preview(w http.ResponseWriter, r *http.Request, rules json.RawMessage) error {
	rule, err := segment.Parse(rules)
	if err != nil {
		return invalid.Within("rules", err)
	}
	ctx, p := r.Context(), caller(r.Context())
	if rule.Uses("phone") && !seesPhones(p) {
		return errMaskedPhone
	}
	n, err := segment.Count(ctx, s.db, p.AccountID, &rule)
	if err != nil {
		return err
	}
	sample, err := segment.Contacts(ctx, s.db, p.AccountID, &rule, 0, previewSample)
	if err != nil {
		return err
	}
	out := previewView{Count: n, Sample: make([]contacts.View, len(sample))}
	for i, c := range sample {
		out.Sample[i] = contacts.ViewOf(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// conflictAs turns a unique-key violation, or a row still referenced by another, into a 409 with msg.
func conflictAs(err error, msg string) error {
	if pgCode(err) == "23505" || pgCode(err) == "23503" {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: msg}
	}
	return err
}

func isUniqueViolation(err error) bool { return pgCode(err) == "23505" }

// pgCode is the SQLSTATE of an error Postgres answered, "" for any other error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
