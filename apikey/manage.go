package apikey

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
)

// The keys of an account, as the API and the console manage them.

// Input is a key to make.
type Input struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// View is a key as people see it: never its secret, except once, in Key, when it is made.
type View struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
	Key        string     `json:"key,omitempty"`
}

// ViewOf is a stored key's view.
func ViewOf(k queries.ListAPIKeysRow) View {
	return View{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
		RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
}

// Active tells whether the key works: neither revoked nor expired.
func (v View) Active(now time.Time) bool {
	return v.RevokedAt == nil && (v.ExpiresAt == nil || v.ExpiresAt.After(now))
}

// Create makes a key of by's account; the answer carries its secret, which is stored only hashed.
func Create(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in Input) (View, error) {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "" || len(in.Name) > 200:
		return View{}, invalid.Field("name", "is required, at most 200 characters")
	case role.Names[in.Role] == 0:
		return View{}, invalid.Field("role", "is one of owner, admin, marketer, analyst, integration")
	case in.ExpiresAt != nil && !in.ExpiresAt.After(time.Now()):
		return View{}, invalid.Field("expires_at", "must be in the future")
	}
	k := New()
	var view View
	err := audit.Change(ctx, db, by, "api_key.create", "api_key", func(q *queries.Queries) (int64, any, any, error) {
		row, err := q.CreateAPIKey(ctx, queries.CreateAPIKeyParams{AccountID: by.AccountID, Name: in.Name, Prefix: k.Prefix,
			SecretHash: k.Hash, Role: in.Role, ExpiresAt: in.ExpiresAt})
		view = View{ID: row.ID, Name: row.Name, Prefix: row.Prefix, Role: row.Role, ExpiresAt: row.ExpiresAt, CreatedAt: row.CreatedAt}
		return row.ID, nil, view, err
	})
	view.Key = k.Token
	return view, err
}

// Revoke ends a key of by's account at once. The account's last working owner key cannot be
// revoked: nobody could manage keys through the API after it (an account without owner keys, made
// in the console, revokes its other keys freely).
func Revoke(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) error {
	return audit.Change(ctx, db, by, "api_key.revoke", "api_key", func(q *queries.Queries) (int64, any, any, error) {
		if err := q.LockAccount(ctx, by.AccountID); err != nil {
			return 0, nil, nil, err
		}
		before, err := q.GetAPIKey(ctx, queries.GetAPIKeyParams{AccountID: by.AccountID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, nil, invalid.NotFound("api key")
		}
		if err != nil {
			return 0, nil, nil, err
		}
		k, err := q.RevokeAPIKey(ctx, queries.RevokeAPIKeyParams{AccountID: by.AccountID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, nil, invalid.Conflict("the key is revoked already")
		}
		if err != nil {
			return 0, nil, nil, err
		}
		if k.Role == "owner" {
			owners, err := q.CountActiveOwnerKeys(ctx, by.AccountID)
			if err != nil {
				return 0, nil, nil, err
			}
			if owners == 0 {
				return 0, nil, nil, invalid.Conflict("this is the account's last owner key; make another first")
			}
		}
		return id, ViewOf(queries.ListAPIKeysRow(before)), ViewOf(queries.ListAPIKeysRow(k)), nil
	})
}
