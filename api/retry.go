package api

import (
	"net/http"
	"time"

	"github.com/dripcast/dripcast/broadcast"
)

// retryFailed makes a new broadcast, sent now, to the recipients whose messages failed with a
// reason worth retrying (broadcast.Retry says which).
func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "broadcast")
	if err != nil {
		return err
	}
	out, err := broadcast.RetryFailed(r.Context(), s.db, caller(r.Context()).actor(), id, time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, broadcast.ViewOf(out))
	return nil
}

// retarget makes a draft broadcast to one funnel slice of a broadcast (broadcast.Retarget).
func (s *Server) retarget(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "broadcast")
	if err != nil {
		return err
	}
	var in broadcast.RetargetInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	out, err := broadcast.Retarget(r.Context(), s.db, caller(r.Context()).actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, broadcast.ViewOf(out))
	return nil
}
