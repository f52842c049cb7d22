package api

import (
	"errors"
	"net/http"

	"github.com/dripcast/dripcast/broadcast"
)

// testSend sends a template at once to a few numbers before a broadcast is scheduled
// (broadcast.Sender.TestSend says how).
func (s *Server) testSend(w http.ResponseWriter, r *http.Request) error {
	var in broadcast.TestInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	results, err := broadcast.Sender{Meta: s.opts.Meta, Secrets: s.opts.Secrets}.TestSend(r.Context(), s.db, caller(r.Context()).actor(), in)
	if errors.Is(err, broadcast.ErrNoMeta) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}
