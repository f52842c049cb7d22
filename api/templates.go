package api

import (
	"errors"
	"net/http"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/templates"
)

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) error {
	var in templates.Template
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	v, err := templates.Create(r.Context(), s.db, caller(r.Context()).actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) loadTemplate(r *http.Request) (templates.View, error) {
	id, err := pathID(r, "template")
	if err != nil {
		return templates.View{}, err
	}
	return templates.Get(r.Context(), s.q, caller(r.Context()).AccountID, id)
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) error {
	v, err := s.loadTemplate(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// templateHistory is what Meta said of the template: status events and quality changes.
func (s *Server) templateHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "template")
	if err != nil {
		return err
	}
	events, err := templates.History(r.Context(), s.q, caller(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": events})
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Template, error) {
		return s.q.ListTemplates(r.Context(), queries.ListTemplatesParams{AccountID: account, After: after, Lim: lim})
	}, templates.ViewOf, func(v templates.View) int64 { return v.ID })
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "template")
	if err != nil {
		return err
	}
	var in templates.Template
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	v, err := templates.Update(r.Context(), s.db, caller(r.Context()).actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "template")
	if err != nil {
		return err
	}
	if err := templates.Delete(r.Context(), s.db, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// previewTemplate renders the template for one contact, with optional event properties, exactly
// as a send would fill it.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) error {
	v, err := s.loadTemplate(r)
	if err != nil {
		return err
	}
	var in struct {
		ContactID int64          `json:"contact_id"`
		Event     map[string]any `json:"event"`
	}
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	p := caller(r.Context())
	out, err := templates.RenderFor(r.Context(), s.q, p.AccountID, v, in.ContactID, in.Event, !seesPhones(p))
	var renderErr *templates.RenderError
	if errors.As(err, &renderErr) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "render_failed", Message: err.Error()}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// syncTemplates makes the account's templates what the channel's WABA lists on Meta.
func (s *Server) syncTemplates(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "channel")
	if err != nil {
		return err
	}
	res, err := templates.SyncChannel(r.Context(), s.db, caller(r.Context()).actor(), s.opts.Meta, s.opts.Secrets, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
