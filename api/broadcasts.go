package api

import (
	"net/http"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/queries"
)

func (s *Server) createBroadcast(w http.ResponseWriter, r *http.Request) error {
	var in broadcast.Input
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	b, c, err := broadcast.Create(r.Context(), s.db, caller(r.Context()).actor(), in, time.Now())
	if err != nil {
		return err
	}
	v := broadcast.ViewOf(b)
	v.Estimate = &c.Estimate
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) loadBroadcast(r *http.Request) (queries.Broadcast, error) {
	id, err := pathID(r, "broadcast")
	if err != nil {
		return queries.Broadcast{}, err
	}
	return broadcast.Get(r.Context(), s.db, caller(r.Context()).AccountID, id)
}

func (s *Server) getBroadcast(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, broadcast.ViewOf(b))
	return nil
}

func (s *Server) listBroadcasts(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Broadcast, error) {
		return s.q.ListBroadcasts(r.Context(), queries.ListBroadcastsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(broadcast.ViewOf), func(v broadcast.View) int64 { return v.ID })
}

// updateBroadcast edits a broadcast that has not started; "draft": false schedules a draft.
func (s *Server) updateBroadcast(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "broadcast")
	if err != nil {
		return err
	}
	var in broadcast.Input
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	b, c, err := broadcast.Update(r.Context(), s.db, caller(r.Context()).actor(), id, in, time.Now())
	if err != nil {
		return err
	}
	v := broadcast.ViewOf(b)
	v.Estimate = &c.Estimate
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) pauseBroadcast(w http.ResponseWriter, r *http.Request) error {
	return s.act(w, r, broadcast.ActionPause)
}
func (s *Server) resumeBroadcast(w http.ResponseWriter, r *http.Request) error {
	return s.act(w, r, broadcast.ActionResume)
}
func (s *Server) cancelBroadcast(w http.ResponseWriter, r *http.Request) error {
	return s.act(w, r, broadcast.ActionCancel)
}

func (s *Server) act(w http.ResponseWriter, r *http.Request, action string) error {
	id, err := pathID(r, "broadcast")
	if err != nil {
		return err
	}
	b, err := broadcast.Act(r.Context(), s.db, caller(r.Context()).actor(), id, action)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, broadcast.ViewOf(b))
	return nil
}
