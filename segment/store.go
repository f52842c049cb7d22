package segment

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// An account's saved segments, as the API and the console keep them.

// View is a saved segment as people see it.
type View struct {
	ID        int64           `json:"id"`
	Name      string          `json:"name"`
	Rules     json.RawMessage `json:"rules"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ViewOf is a stored segment's view.
func ViewOf(s queries.Segment) View {
	return View{ID: s.ID, Name: s.Name, Rules: s.Rules, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// checkSaved validates a segment's name and rules and returns the rules normalized.
func checkSaved(name string, rules json.RawMessage) (string, json.RawMessage, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return "", nil, invalid.Field("name", "is required, at most 200 characters")
	}
	if len(rules) == 0 {
		return "", nil, invalid.Field("rules", `are required, for example {"all":[{"field":"opted_in","op":"eq","value":true}]}`)
	}
	rule, err := Parse(rules)
	if err != nil {
		return "", nil, invalid.Within("rules", err)
	}
	normalized, _ := json.Marshal(rule)
	return name, normalized, nil
}

func errNameTaken() error { return invalid.Conflict("a segment with this name exists") }

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Get is a saved segment of the account.
func Get(ctx context.Context, q *queries.Queries, account, id int64) (queries.Segment, error) {
	s, err := q.GetSegment(ctx, queries.GetSegmentParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return s, invalid.NotFound("segment")
	}
	return s, err
}

// Create saves a segment of by's account.
func Create(ctx context.Context, db *pgxpool.Pool, by audit.Actor, name string, rules json.RawMessage) (View, error) {
	name, rules, err := checkSaved(name, rules)
	if err != nil {
		return View{}, err
	}
	var view View
	err = audit.Change(ctx, db, by, "segment.create", "segment", func(q *queries.Queries) (int64, any, any, error) {
		s, err := q.CreateSegment(ctx, queries.CreateSegmentParams{AccountID: by.AccountID, Name: name, Rules: rules})
		if isUnique(err) {
			return 0, nil, nil, errNameTaken()
		}
		view = ViewOf(s)
		return s.ID, nil, view, err
	})
	return view, err
}

// Update renames a segment of by's account and replaces its rules.
func Update(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, name string, rules json.RawMessage) (View, error) {
	var view View
	err := audit.Change(ctx, db, by, "segment.update", "segment", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		name, rules, err := checkSaved(name, rules)
		if err != nil {
			return 0, nil, nil, err
		}
		s, err := q.UpdateSegment(ctx, queries.UpdateSegmentParams{AccountID: by.AccountID, ID: id, Name: name, Rules: rules})
		if isUnique(err) {
			return 0, nil, nil, errNameTaken()
		}
		view = ViewOf(s)
		return id, ViewOf(before), view, err
	})
	return view, err
}

// Delete removes a segment of by's account.
func Delete(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) error {
	return audit.Change(ctx, db, by, "segment.delete", "segment", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		_, err = q.DeleteSegment(ctx, queries.DeleteSegmentParams{AccountID: by.AccountID, ID: id})
		return id, ViewOf(before), nil, err
	})
}
