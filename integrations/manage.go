package integrations

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
)

// An account's integrations, as the API and the console manage them.

// Input is an integration to make, or the fields of one to change (nil: unchanged).
type Input struct {
	Name           *string  `json:"name"`
	Kind           string   `json:"kind"`
	Mapping        *Mapping `json:"mapping"`
	DefaultCountry *string  `json:"default_country"`
	Secret         *string  `json:"secret"` // Shopify's webhook signing secret; generated for generic
	// OverwriteContacts lets the integration's events rename contacts, change their email and
	// consent; by default they only create contacts and fill what they lack.
	OverwriteContacts *bool `json:"overwrite_contacts"`
}

// View is an integration as people see it: its secret only once, when Dripcast made it.
type View struct {
	ID             int64    `json:"id"`
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	URL            string   `json:"url"`
	Mapping        *Mapping `json:"mapping,omitempty"`
	DefaultCountry string   `json:"default_country"`
	// OverwriteContacts: see Input.
	OverwriteContacts bool      `json:"overwrite_contacts"`
	Secret            string    `json:"secret,omitempty"` // shown once, when generated
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// ViewOf is a stored integration's view; URL is the path its deliveries are posted to.
func ViewOf(i queries.Integration) View {
	v := View{ID: i.ID, Name: i.Name, Kind: i.Kind, URL: "/hooks/" + i.Token, DefaultCountry: i.DefaultCountry,
		OverwriteContacts: i.OverwriteContacts, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
	if i.Kind == Generic {
		var m Mapping
		if json.Unmarshal(i.Mapping, &m) == nil {
			v.Mapping = &m
		}
	}
	return v
}

// randomText is n random bytes in URL-safe text.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// check validates the fields given for an integration of kind.
func (in *Input) check(kind string) error {
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
		if *in.Name == "" || len(*in.Name) > 200 {
			return invalid.Field("name", "is required, at most 200 characters")
		}
	}
	if in.Mapping != nil {
		if kind != Generic {
			return invalid.Field("mapping", "only a generic integration takes a mapping; Shopify's is built in")
		}
		if err := in.Mapping.Check(); err != nil {
			field, msg, _ := strings.Cut(err.Error(), ": ") // "mapping.phone: give …"
			return invalid.Field(field, "%s", msg)
		}
	}
	if in.DefaultCountry != nil {
		c := strings.ToUpper(strings.TrimSpace(*in.DefaultCountry))
		if c != "" && !phone.ValidRegion(c) {
			return invalid.Field("default_country", "is an ISO country code such as IN or US")
		}
		*in.DefaultCountry = c
	}
	if in.Secret != nil && (len(*in.Secret) < 16 || len(*in.Secret) > 200) {
		return invalid.Field("secret", "has 16 to 200 characters")
	}
	return nil
}

// Create makes an integration of by's account. A generic one gets a generated signing secret,
// in the answer only (the database keeps it sealed); Shopify's is the one Shopify shows.
func Create(ctx context.Context, db *pgxpool.Pool, box *secrets.Box, by audit.Actor, in Input) (View, error) {
	switch {
	case in.Kind != Generic && in.Kind != Shopify:
		return View{}, invalid.Field("kind", "is generic or shopify")
	case in.Name == nil:
		return View{}, invalid.Field("name", "is required")
	case in.Kind == Generic && in.Mapping == nil:
		return View{}, invalid.Field("mapping", "a generic integration needs one: at least phone, and event or event_name")
	case in.Kind == Shopify && in.Secret == nil:
		return View{}, invalid.Field("secret", "give the webhook signing secret Shopify shows for your app")
	}
	if err := in.check(in.Kind); err != nil {
		return View{}, err
	}
	secret := "whsec_" + randomText(32)
	generated := in.Secret == nil
	if !generated {
		secret = *in.Secret
	}
	mapping := []byte("{}")
	if in.Mapping != nil {
		mapping, _ = json.Marshal(in.Mapping)
	}
	country := ""
	if in.DefaultCountry != nil {
		country = *in.DefaultCountry
	}
	token := randomText(16)
	var view View
	err := audit.Change(ctx, db, by, "integration.create", "integration", func(q *queries.Queries) (int64, any, any, error) {
		i, err := q.CreateIntegration(ctx, queries.CreateIntegrationParams{AccountID: by.AccountID, Name: *in.Name, Kind: in.Kind,
			Token: token, SecretEnc: box.Seal(secret, secrets.IntegrationSecret(token)), Mapping: mapping,
			DefaultCountry: country, OverwriteContacts: in.OverwriteContacts != nil && *in.OverwriteContacts})
		view = ViewOf(i)
		return i.ID, nil, view, err
	})
	if generated {
		view.Secret = secret // shown this once; only its ciphertext is kept
	}
	return view, err
}

// Get is an integration of the account.
func Get(ctx context.Context, q *queries.Queries, account, id int64) (queries.Integration, error) {
	i, err := q.GetIntegration(ctx, queries.GetIntegrationParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return i, invalid.NotFound("integration")
	}
	return i, err
}

// Update changes the fields in gives of an integration of by's account (not its kind).
func Update(ctx context.Context, db *pgxpool.Pool, box *secrets.Box, by audit.Actor, id int64, in Input) (View, error) {
	var view View
	err := audit.Change(ctx, db, by, "integration.update", "integration", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		params, err := in.params(box, before)
		if err != nil {
			return 0, nil, nil, err
		}
		i, err := q.UpdateIntegration(ctx, params)
		view = ViewOf(i)
		return id, ViewOf(before), view, err
	})
	return view, err
}

// params are the update of before that in asks for.
func (in Input) params(box *secrets.Box, before queries.Integration) (queries.UpdateIntegrationParams, error) {
	if in.Kind != "" && in.Kind != before.Kind {
		return queries.UpdateIntegrationParams{}, invalid.Field("kind", "the kind of an integration cannot change")
	}
	if err := in.check(before.Kind); err != nil {
		return queries.UpdateIntegrationParams{}, err
	}
	params := queries.UpdateIntegrationParams{Name: before.Name, Mapping: before.Mapping, DefaultCountry: before.DefaultCountry,
		OverwriteContacts: before.OverwriteContacts, AccountID: before.AccountID, ID: before.ID}
	if in.OverwriteContacts != nil {
		params.OverwriteContacts = *in.OverwriteContacts
	}
	if in.Name != nil {
		params.Name = *in.Name
	}
	if in.Mapping != nil {
		params.Mapping, _ = json.Marshal(in.Mapping)
	}
	if in.DefaultCountry != nil {
		params.DefaultCountry = *in.DefaultCountry
	}
	if in.Secret != nil {
		params.SecretEnc = box.Seal(*in.Secret, secrets.IntegrationSecret(before.Token))
	}
	return params, nil
}

// Delete removes an integration of by's account: its hook address stops working.
func Delete(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) error {
	return audit.Change(ctx, db, by, "integration.delete", "integration", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		_, err = q.DeleteIntegration(ctx, queries.DeleteIntegrationParams{AccountID: by.AccountID, ID: id})
		return id, ViewOf(before), nil, err
	})
}
