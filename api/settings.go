package api

import (
	"net/http"

	"github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/policy"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	settings, err := account.Settings(r.Context(), s.q, caller(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settings)
	return nil
}

// putSettings replaces the account's sending policies.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	var in policy.Settings
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if err := account.SaveSettings(r.Context(), s.db, caller(r.Context()).actor(), in); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}
