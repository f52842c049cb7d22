package templates

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
)

// An account's templates as the API and the console keep them: validated, audited.

// View is a stored template as people see it.
type View struct {
	ID int64 `json:"id"`
	Template
	QualityScore string `json:"quality_score"` // Meta's: GREEN, YELLOW, RED or UNKNOWN
	// FlaggedAt is when Meta flagged the template for low quality: it still sends, and Meta
	// disables it on DisableDate unless its quality improves.
	FlaggedAt   *time.Time `json:"flagged_at,omitempty"`
	DisableDate *time.Time `json:"disable_date,omitempty"`
	// WABAID is the WABA a sync took the template from; MappingNote names the parameters that
	// need a source since (cleared when the template is saved with every source).
	WABAID      *string   `json:"waba_id,omitempty"`
	MappingNote string    `json:"mapping_note,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Event is one thing Meta said of a template: a status event (APPROVED, PAUSED, FLAGGED,
// REINSTATED, DISABLED, …) or QUALITY, a change of its quality score.
type Event struct {
	Event  string    `json:"event"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// History is what Meta said of a template of the account, newest first (the latest 100).
func History(ctx context.Context, q *queries.Queries, account, id int64) ([]Event, error) {
	if _, err := Get(ctx, q, account, id); err != nil {
		return nil, err
	}
	rows, err := q.TemplateHistory(ctx, queries.TemplateHistoryParams{AccountID: account, TemplateID: id, Lim: 100})
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{Event: r.Event, Detail: r.Detail, At: r.At}
	}
	return out, err
}

// ViewOf is a stored template's view.
func ViewOf(t queries.Template) (View, error) {
	v := View{ID: t.ID, QualityScore: t.QualityScore, FlaggedAt: t.FlaggedAt, DisableDate: t.DisableDate, WABAID: t.WabaID, MappingNote: t.MappingNote, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	v.Name, v.Language, v.Category, v.Status = t.Name, t.Language, t.Category, t.Status
	if err := json.Unmarshal(t.Components, &v.Components); err != nil {
		return v, err
	}
	return v, json.Unmarshal(t.Parameters, &v.Parameters)
}

// Get is a template of the account.
func Get(ctx context.Context, q *queries.Queries, account, id int64) (View, error) {
	t, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return View{}, invalid.NotFound("template")
	}
	if err != nil {
		return View{}, err
	}
	return ViewOf(t)
}

// encode validates a template and encodes it for the database.
func encode(t *Template) (components, parameters []byte, err error) {
	if err := t.Validate(); err != nil {
		return nil, nil, err
	}
	if t.Parameters == nil {
		t.Parameters = Mapping{}
	}
	components, _ = json.Marshal(t.Components)
	parameters, _ = json.Marshal(t.Parameters)
	return components, parameters, nil
}

func errTaken() error { return invalid.Conflict("a template with this name and language exists") }

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Create stores a template of by's account (by hand, or as Meta approved it).
func Create(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in Template) (View, error) {
	comps, params, err := encode(&in)
	if err != nil {
		return View{}, err
	}
	var v View
	err = audit.Change(ctx, db, by, "template.create", "template", func(q *queries.Queries) (int64, any, any, error) {
		t, err := q.CreateTemplate(ctx, queries.CreateTemplateParams{AccountID: by.AccountID, Name: in.Name,
			Language: in.Language, Category: in.Category, Status: in.Status, Components: comps, Parameters: params})
		if isUnique(err) {
			return 0, nil, nil, errTaken()
		}
		if err != nil {
			return 0, nil, nil, err
		}
		v, err = ViewOf(t)
		return t.ID, nil, v, err
	})
	return v, err
}

// Update replaces a template of by's account.
func Update(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, in Template) (View, error) {
	comps, params, err := encode(&in)
	if err != nil {
		return View{}, err
	}
	var v View
	err = audit.Change(ctx, db, by, "template.update", "template", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		t, err := q.UpdateTemplate(ctx, queries.UpdateTemplateParams{AccountID: by.AccountID, ID: id, Name: in.Name,
			Language: in.Language, Category: in.Category, Status: in.Status, Components: comps, Parameters: params})
		if isUnique(err) {
			return 0, nil, nil, errTaken()
		}
		if err != nil {
			return 0, nil, nil, err
		}
		v, err = ViewOf(t)
		return id, before, v, err
	})
	return v, err
}

// Delete removes a template no campaign uses.
func Delete(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) error {
	return audit.Change(ctx, db, by, "template.delete", "template", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		// Sequences name templates inside their definitions, where no foreign key can see them.
		used, err := q.TemplateInSequence(ctx, queries.TemplateInSequenceParams{AccountID: by.AccountID, TemplateID: id})
		if err != nil {
			return 0, nil, nil, err
		}
		if used {
			return 0, nil, nil, invalid.Conflict("the template is used by a sequence; archive the sequence first")
		}
		_, err = q.DeleteTemplate(ctx, queries.DeleteTemplateParams{AccountID: by.AccountID, ID: id})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return 0, nil, nil, invalid.Conflict("the template is used by a broadcast or a sequence")
		}
		return id, before, nil, err
	})
}

// RenderError is a template that cannot be filled for the contact (a value and its fallback
// both missing).
type RenderError struct{ Err error }

func (e *RenderError) Error() string { return e.Err.Error() }

// RenderFor fills a template of the account for one of its contacts (with event properties, or
// nil), exactly as a send would. With masked, the contact's number is masked first: the text must
// not give away what the viewer sees masked.
func RenderFor(ctx context.Context, q *queries.Queries, account int64, t View, contactID int64, event map[string]any, masked bool) (Rendered, error) {
	c, err := q.GetContact(ctx, queries.GetContactParams{AccountID: account, ID: contactID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Rendered{}, invalid.NotFound("contact")
	}
	if err != nil {
		return Rendered{}, err
	}
	var attrs map[string]any
	if err := json.Unmarshal(c.Attributes, &attrs); err != nil {
		return Rendered{}, err
	}
	if masked {
		c.Phone = phone.Mask(c.Phone)
	}
	out, err := t.Render(Recipient{Name: c.Name, Email: c.Email, Phone: c.Phone, Country: c.Country, Attributes: attrs}, event)
	if err != nil {
		return Rendered{}, &RenderError{err}
	}
	return out, nil
}
