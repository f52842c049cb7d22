package api

import (
	"net/http"

	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/queries"
)

func (s *Server) createSequence(w http.ResponseWriter, r *http.Request) error {
	var in drip.SequenceInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := drip.CreateSequence(r.Context(), s.db, caller(r.Context()).actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) loadSequence(r *http.Request) (drip.SequenceView, error) {
	id, err := pathID(r, "sequence")
	if err != nil {
		return drip.SequenceView{}, err
	}
	return drip.GetSequence(r.Context(), s.q, caller(r.Context()).AccountID, id)
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
	}, func(row queries.ListSequencesRow) (drip.SequenceView, error) {
		return drip.SequenceViewOf(queries.GetSequenceRow(row))
	}, func(v drip.SequenceView) int64 { return v.ID })
}

// updateSequence replaces the definition (in place for a draft, else as a new version).
func (s *Server) updateSequence(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "sequence")
	if err != nil {
		return err
	}
	var in drip.SequenceInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := drip.UpdateSequence(r.Context(), s.db, caller(r.Context()).actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) activateSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, drip.ActionActivate)
}
func (s *Server) pauseSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, drip.ActionPause)
}
func (s *Server) resumeSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, drip.ActionResume)
}
func (s *Server) archiveSequence(w http.ResponseWriter, r *http.Request) error {
	return s.moveSequence(w, r, drip.ActionArchive)
}

func (s *Server) moveSequence(w http.ResponseWriter, r *http.Request, action string) error {
	id, err := pathID(r, "sequence")
	if err != nil {
		return err
	}
	view, err := drip.Move(r.Context(), s.db, caller(r.Context()).actor(), id, action)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) sequenceReport(w http.ResponseWriter, r *http.Request) error {
	seq, err := s.loadSequence(r)
	if err != nil {
		return err
	}
	rep, err := drip.LoadReport(r.Context(), s.read, caller(r.Context()).AccountID, seq.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sequence_id": seq.ID, "status": seq.Status, "report": rep})
	return nil
}
