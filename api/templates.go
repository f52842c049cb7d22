package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/templates"
)

type templateView struct {
	ID int64 `json:"id"`
	templates.Template
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewTemplate(t queries.Template) (templateView, error) {
	v := templateView{ID: t.ID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	v.Name, v.Language, v.Category, v.Status = t.Name, t.Language, t.Category, t.Status
	if err := json.Unmarshal(t.Components, &v.Components); err != nil {
		return v, err
	}
	return v, json.Unmarshal(t.Parameters, &v.Parameters)
}

// templateParams validates a template body and encodes it for the database.
func templateParams(t *templates.Template) (components, parameters []byte, err error) {
	if err := t.Validate(); err != nil {
		return nil, nil, err
	}
	if t.Parameters == nil {
		t.Parameters = templates.Mapping{}
	}
	components, _ = json.Marshal(t.Components)
	parameters, _ = json.Marshal(t.Parameters)
	return components, parameters, nil
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) error {
	var in templates.Template
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	comps, params, err := templateParams(&in)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusCreated, "template.create", "template", func(q *queries.Queries) (change, error) {
		t, err := q.CreateTemplate(ctx, queries.CreateTemplateParams{AccountID: p.AccountID, Name: in.Name,
			Language: in.Language, Category: in.Category, Status: in.Status, Components: comps, Parameters: params})
		if err != nil {
			return change{}, conflictAs(err, "a template with this name and language exists")
		}
		v, err := viewTemplate(t)
		return change{t.ID, nil, v}, err
	})
}

func (s *Server) loadTemplate(r *http.Request) (templateView, error) {
	id, err := pathID(r, "template")
	if err != nil {
		return templateView{}, err
	}
	t, err := s.q.GetTemplate(r.Context(), queries.GetTemplateParams{AccountID: caller(r.Context()).AccountID, ID: id})
	if err != nil {
		return templateView{}, notFoundAs(err, "template")
	}
	return viewTemplate(t)
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) error {
	v, err := s.loadTemplate(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Template, error) {
		return s.q.ListTemplates(r.Context(), queries.ListTemplatesParams{AccountID: account, After: after, Lim: lim})
	}, viewTemplate, func(v templateView) int64 { return v.ID })
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadTemplate(r)
	if err != nil {
		return err
	}
	var in templates.Template
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	comps, params, err := templateParams(&in)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusOK, "template.update", "template", func(q *queries.Queries) (change, error) {
		t, err := q.UpdateTemplate(ctx, queries.UpdateTemplateParams{AccountID: p.AccountID, ID: before.ID, Name: in.Name,
			Language: in.Language, Category: in.Category, Status: in.Status, Components: comps, Parameters: params})
		if err != nil {
			return change{}, conflictAs(notFoundAs(err, "template"), "a template with this name and language exists")
		}
		v, err := viewTemplate(t)
		return change{t.ID, before, v}, err
	})
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadTemplate(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusNoContent, "template.delete", "template", func(q *queries.Queries) (change, error) {
		// Sequences name templates inside their definitions, where no foreign key can see them.
		used, err := q.TemplateInSequence(ctx, queries.TemplateInSequenceParams{AccountID: p.AccountID, TemplateID: before.ID})
		if err != nil {
			return change{}, err
		}
		if used {
			return change{}, &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the template is used by a sequence; archive the sequence first"}
		}
		n, err := q.DeleteTemplate(ctx, queries.DeleteTemplateParams{AccountID: p.AccountID, ID: before.ID})
		if err != nil {
			return change{}, conflictAs(err, "the template is used by a broadcast or a sequence")
		}
		if n == 0 {
			return change{}, errNotFound("template")
		}
		return change{before.ID, before, nil}, nil
	})
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
	ctx, p := r.Context(), caller(r.Context())
	c, err := s.q.GetContact(ctx, queries.GetContactParams{AccountID: p.AccountID, ID: in.ContactID})
	if err != nil {
		return notFoundAs(err, "contact")
	}
	var attrs map[string]any
	if err := json.Unmarshal(c.Attributes, &attrs); err != nil {
		return err
	}
	if !seesPhones(p) {
		c.Phone = phone.Mask(c.Phone) // the rendered text must not give away what the API masks
	}
	out, err := v.Template.Render(templates.Recipient{Name: c.Name, Email: c.Email, Phone: c.Phone,
		Country: c.Country, Attributes: attrs}, in.Event)
	if err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "render_failed", Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
