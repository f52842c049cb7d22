package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

// previewSample is how many matching contacts a preview shows.
const previewSample = 10

type segmentInput struct {
	Name  string          `json:"name"`
	Rules json.RawMessage `json:"rules"`
}

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) error {
	var in segmentInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := segment.Create(r.Context(), s.db, caller(r.Context()).actor(), in.Name, in.Rules)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request) error {
	seg, err := s.loadSegment(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, segment.ViewOf(seg))
	return nil
}

func (s *Server) loadSegment(r *http.Request) (queries.Segment, error) {
	id, err := pathID(r, "segment")
	if err != nil {
		return queries.Segment{}, err
	}
	return segment.Get(r.Context(), s.q, caller(r.Context()).AccountID, id)
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Segment, error) {
		return s.q.ListSegments(r.Context(), queries.ListSegmentsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(segment.ViewOf), func(v segment.View) int64 { return v.ID })
}

func (s *Server) updateSegment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "segment")
	if err != nil {
		return err
	}
	var in segmentInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := segment.Update(r.Context(), s.db, caller(r.Context()).actor(), id, in.Name, in.Rules)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "segment")
	if err != nil {
		return err
	}
	if err := segment.Delete(r.Context(), s.db, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
