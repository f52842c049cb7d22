package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// One contact's changes, as the API and the console make them: validated, audited, and with the
// events a sequence may start on.

// View is a contact as people see it.
type View struct {
	ID             int64           `json:"id"`
	Phone          string          `json:"phone"`
	WaID           string          `json:"wa_id"`
	Name           string          `json:"name"`
	Email          string          `json:"email"`
	Tags           []string        `json:"tags"`
	Attributes     json.RawMessage `json:"attributes"`
	Country        string          `json:"country"`
	TimeZone       string          `json:"time_zone"`
	OptedIn        bool            `json:"opted_in"`
	OptInChangedAt *time.Time      `json:"opt_in_changed_at"`
	OptInSource    string          `json:"opt_in_source"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	ErasedAt       *time.Time      `json:"erased_at,omitempty"` // its personal data was erased
}

// ViewOf is a stored contact's view.
func ViewOf(c queries.Contact) View {
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return View{ID: c.ID, Phone: c.Phone, WaID: c.WaID, Name: c.Name, Email: c.Email, Tags: tags, Attributes: c.Attributes,
		Country: c.Country, TimeZone: c.TimeZone, OptedIn: c.OptedIn, OptInChangedAt: c.OptInChangedAt,
		OptInSource: c.OptInSource, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ErasedAt: c.ErasedAt}
}

// AuthorOf is an actor as the writer of contacts: consent changes record "key:<id>" or
// "user:<id>".
func AuthorOf(a audit.Actor) Author {
	if a.UserID != 0 {
		return Author{By: fmt.Sprintf("user:%d", a.UserID)}
	}
	return Author{By: fmt.Sprintf("key:%d", a.KeyID)}
}

// FieldError turns this package's "field: message" errors into invalid input of that field.
func FieldError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := invalid.As(err); ok {
		return err
	}
	field, msg, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		return invalid.Input("%s", err.Error())
	}
	return invalid.Field(field, "%s", msg)
}

// Save creates a contact, or updates the one with the same phone number; created tells which.
func Save(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in Input, defaultCountry string) (c queries.Contact, created bool, err error) {
	row, err := in.Normalize(defaultCountry)
	if err != nil {
		return c, false, FieldError(err)
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		out, err := Upsert(ctx, q, by.AccountID, []Row{row}, AuthorOf(by))
		if err != nil {
			return err
		}
		created = out.Created == 1
		if c, err = q.GetContact(ctx, queries.GetContactParams{AccountID: by.AccountID, ID: out.IDs[row.Phone]}); err != nil {
			return err
		}
		action, event := "contact.update", EventUpdated
		if created {
			action, event = "contact.create", EventCreated
		}
		if err := RecordEvents(ctx, q, by.AccountID, c.ID, Event{Name: event}); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, action, "contact", c.ID, nil, ViewOf(c))
	})
	return c, created, err
}

// Patch is a change to a contact. The phone number is the contact's identity and cannot change;
// tags are replaced; attributes are merged and a null removes one. Nil fields stay as they are.
type Patch struct {
	Name       *string        `json:"name"`
	Email      *string        `json:"email"`
	Tags       *[]string      `json:"tags"`
	Attributes map[string]any `json:"attributes"`
	TimeZone   *string        `json:"time_zone"`
}

func (in Patch) params() (queries.UpdateContactParams, error) {
	var p queries.UpdateContactParams
	var err error
	if in.Name != nil {
		n, err := CheckName(*in.Name)
		if err != nil {
			return p, err
		}
		p.Name = &n
	}
	if in.Email != nil {
		e, err := CheckEmail(*in.Email)
		if err != nil {
			return p, err
		}
		p.Email = &e
	}
	if in.TimeZone != nil {
		tz, err := CheckTimeZone(*in.TimeZone)
		if err != nil {
			return p, err
		}
		p.TimeZone = &tz
	}
	if in.Tags != nil {
		if p.Tags, err = CheckTags(*in.Tags); err != nil {
			return p, err
		}
		if p.Tags == nil {
			p.Tags = []string{}
		}
	}
	if in.Attributes != nil {
		if err := CheckAttributes(in.Attributes, true); err != nil {
			return p, err
		}
		p.Attributes, _ = json.Marshal(in.Attributes)
	}
	return p, nil
}

// Update changes a contact of by's account.
func Update(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, in Patch) (queries.Contact, error) {
	params, err := in.params()
	if err != nil {
		return queries.Contact{}, FieldError(err)
	}
	params.AccountID, params.ID = by.AccountID, id
	var c queries.Contact
	err = audit.Change(ctx, db, by, "contact.update", "contact", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		if c, err = q.UpdateContact(ctx, params); err != nil {
			return 0, nil, nil, err
		}
		return id, ViewOf(before), ViewOf(c), RecordEvents(ctx, q, by.AccountID, id, changeEvents(before, c)...)
	})
	return c, err
}

// Delete removes a contact of by's account (their messages stay, for the reports).
func Delete(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) error {
	return audit.Change(ctx, db, by, "contact.delete", "contact", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		_, err = q.DeleteContact(ctx, queries.DeleteContactParams{AccountID: by.AccountID, ID: id})
		return id, ViewOf(before), nil, err
	})
}

// SetOptIn records a consent change with where it came from (one of ConsentSources; "api" when
// empty). Setting the value a contact already has changes nothing and records nothing.
func SetOptIn(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, optedIn bool, source string) (queries.Contact, error) {
	source, err := CheckSource(source)
	if err != nil {
		_, msg, _ := strings.Cut(err.Error(), ": ")
		return queries.Contact{}, invalid.Field("source", "%s", msg)
	}
	var c queries.Contact
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if _, err := Get(ctx, q, by.AccountID, id); err != nil {
			return err
		}
		changed, err := q.SetContactOptIn(ctx, queries.SetContactOptInParams{OptedIn: optedIn, Source: source,
			SetBy: AuthorOf(by).By, AccountID: by.AccountID, ID: id})
		if err != nil {
			return err
		}
		if c, err = Get(ctx, q, by.AccountID, id); err != nil || changed == 0 {
			return err
		}
		action := map[bool]string{true: "contact.opt_in", false: "contact.opt_out"}[optedIn]
		return audit.Record(ctx, q, by, action, "contact", id, map[string]bool{"opted_in": !optedIn},
			map[string]any{"opted_in": optedIn, "source": source})
	})
	return c, err
}

// Get is a contact of the account.
func Get(ctx context.Context, q *queries.Queries, account, id int64) (queries.Contact, error) {
	c, err := q.GetContact(ctx, queries.GetContactParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return c, invalid.NotFound("contact")
	}
	return c, err
}
