package segment

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/queries"
)

// Querier runs the contact queries; *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Where is the WHERE clause of the account's contacts (aliased c) that match r, all of them when r
// is nil, never an erased one; its values go into p, the account's first. The queries built on it are the only ones not
// compiled by sqlc: their WHERE clause comes from a rule tree.
func Where(accountID int64, r *Rule, p *Params) (string, error) {
	sql := "c.account_id = " + p.Add(accountID) + " AND c.erased_at IS NULL" // an erased person is in no audience
	if r == nil {
		return sql, nil
	}
	c, err := Compile(*r, p)
	if err != nil {
		return "", err
	}
	return sql + " AND " + c, nil
}

// Contacts lists the account's contacts that match r (all when r is nil) with an id above after,
// in id order.
func Contacts(ctx context.Context, db Querier, accountID int64, r *Rule, after int64, limit int) ([]queries.Contact, error) {
	var p Params
	w, err := Where(accountID, r, &p)
	if err != nil {
		return nil, err
	}
	sql := "SELECT c.* FROM contacts c WHERE " + w + " AND c.id > " + p.Add(after) + " ORDER BY c.id LIMIT " + p.Add(limit)
	rows, err := db.Query(ctx, sql, p.Values...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[queries.Contact])
}

// Count counts the account's contacts that match r.
func Count(ctx context.Context, db Querier, accountID int64, r *Rule) (int64, error) {
	var p Params
	w, err := Where(accountID, r, &p)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.QueryRow(ctx, "SELECT count(*) FROM contacts c WHERE "+w, p.Values...).Scan(&n)
	return n, err
}

// Matching returns which of the given contacts of the account match r.
func Matching(ctx context.Context, db Querier, accountID int64, r Rule, ids []int64) (map[int64]bool, error) {
	var p Params
	w, err := Where(accountID, &r, &p)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, "SELECT c.id FROM contacts c WHERE "+w+" AND c.id = ANY("+p.Add(ids)+")", p.Values...)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	out := make(map[int64]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, err
}
