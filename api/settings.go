package api

import (
	"encoding/json"
	"net/http"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	acct, err := s.q.GetAccount(r.Context(), caller(r.Context()).AccountID)
	if err != nil {
		return err
	}
	settings, err := policy.ParseSettings(acct.Settings)
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
	if err := in.Validate(); err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	raw, _ := json.Marshal(in)
	err := s.inTx(ctx, func(q *queries.Queries) error {
		before, err := q.GetAccount(ctx, p.AccountID)
		if err != nil {
			return err
		}
		if _, err := q.UpdateAccountSettings(ctx, queries.UpdateAccountSettingsParams{Settings: raw, ID: p.AccountID}); err != nil {
			return err
		}
		return s.audit(ctx, q, "account.settings", "account", p.AccountID, before.Settings, in)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}
