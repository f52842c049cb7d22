package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/queries"
)

// createKey makes a key; its secret is in this answer only (the database keeps a hash).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var in apikey.Input
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := apikey.Create(r.Context(), s.db, caller(r.Context()).actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.ListAPIKeysRow, error) {
		return s.q.ListAPIKeys(r.Context(), queries.ListAPIKeysParams{AccountID: account, After: after, Lim: lim})
	}, infallible(apikey.ViewOf), func(v apikey.View) int64 { return v.ID })
}

// revokeKey ends a key at once (not the account's last working owner key).
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "api key")
	if err != nil {
		return err
	}
	if err := apikey.Revoke(r.Context(), s.db, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getAllowedIPs(w http.ResponseWriter, r *http.Request) error {
	acct, err := s.q.GetAccount(r.Context(), caller(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, account.ViewAllowedIPs(acct.AllowedIps))
	return nil
}

// putAllowedIPs replaces the list; one that would shut out the caller's own address is refused.
func (s *Server) putAllowedIPs(w http.ResponseWriter, r *http.Request) error {
	var in account.AllowedIPsView
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	out, err := account.SetAllowedIPs(r.Context(), s.db, caller(r.Context()).actor(), in.AllowedIPs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditLog pages through the account's audit log, newest first, with filters.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := audit.Filter{Action: q.Get("action"), TargetType: q.Get("target_type")}
	for name, dst := range map[string]*int64{"target_id": &f.TargetID, "key_id": &f.KeyID, "user_id": &f.User} {
		if v := q.Get(name); v != "" {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return errValidation(name, "%s is a whole number", name)
			}
		}
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				return errValidation(name, "%s is an RFC 3339 time such as 2026-12-01T00:00:00Z", name)
			}
		}
	}
	entries, err := audit.List(r.Context(), s.read, caller(r.Context()).AccountID, f, before, int32(limit+1))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(entries, limit, func(e audit.Entry) int64 { return e.ID }))
	return nil
}
