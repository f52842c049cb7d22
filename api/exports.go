package api

import (
	"net/http"
	"strconv"

	"github.com/dripcast/dripcast/exports"
)

// asker is the caller as the exports package knows it.
func (p principal) asker() exports.Asker { return exports.Asker{Actor: p.actor(), Role: p.Role} }

// exportView is a request as the API shows it: with its download's address while that works for
// the caller.
type exportView struct {
	exports.View
	DownloadURL string `json:"download_url,omitempty"`
}

func viewExport(v exports.View) exportView {
	out := exportView{View: v}
	if v.Mine && v.Status == "approved" {
		out.DownloadURL = "/v1/exports/" + strconv.FormatInt(v.ID, 10) + "/download"
	}
	return out
}

func (s *Server) getExportApproval(w http.ResponseWriter, r *http.Request) error {
	acct, err := s.q.GetAccount(r.Context(), caller(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"required": acct.ExportsNeedApproval})
	return nil
}

func (s *Server) putExportApproval(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Required *bool `json:"required"`
	}
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.Required == nil {
		return errValidation("required", "true or false")
	}
	if err := exports.SetNeedApproval(r.Context(), s.db, caller(r.Context()).actor(), *in.Required); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"required": *in.Required})
	return nil
}

// requestExport records a request for a bulk export: pending until an owner or admin approves it
// when the account wants that, else approved at once.
func (s *Server) requestExport(w http.ResponseWriter, r *http.Request) error {
	var in exports.Request
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	v, err := exports.Ask(r.Context(), s.db, caller(r.Context()).asker(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewExport(v))
	return nil
}

func (s *Server) listExports(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	by := caller(r.Context()).asker()
	list, err := exports.List(r.Context(), s.q, by, before, int32(limit+1))
	if err != nil {
		return err
	}
	views := make([]exportView, len(list))
	for i, v := range list {
		views[i] = viewExport(v)
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v exportView) int64 { return v.ID }))
	return nil
}

// getExport shows one request: the caller's own, or any to an owner or admin.
func (s *Server) getExport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "export")
	if err != nil {
		return err
	}
	by := caller(r.Context()).asker()
	req, err := exports.Get(r.Context(), s.q, by, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewExport(req))
	return nil
}

func (s *Server) decideExport(approve bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "export")
		if err != nil {
			return err
		}
		v, err := exports.Decide(r.Context(), s.db, caller(r.Context()).asker(), id, approve)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewExport(v))
		return nil
	}
}

// downloadExport streams an approved export to its requester, once.
func (s *Server) downloadExport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "export")
	if err != nil {
		return err
	}
	return exports.Download(r.Context(), s.db, s.read, caller(r.Context()).asker(), id, w, func(name string) {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}, false)
}
