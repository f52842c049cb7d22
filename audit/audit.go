// Package audit appends who changed what, from where, to an account's audit log. The API (for a
// key) and the console (for a person) record through it, in the transaction of the change.
package audit

import (
	"context"
	"encoding/json"
	"net/netip"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/queries"
)

// Actor is who makes a change: an API key or a console user of one account, from an address.
type Actor struct {
	AccountID int64
	KeyID     int64 // 0 for a person
	UserID    int64 // 0 for a key
	Name      string
	IP        netip.Addr
}

// Record writes one entry; before and after are stored as JSON (nil stores nothing).
func Record(ctx context.Context, q *queries.Queries, a Actor, action, targetType string, targetID int64, before, after any) error {
	entry := queries.InsertAuditParams{AccountID: a.AccountID, ActorName: a.Name, Action: action, TargetType: targetType,
		Before: jsonOrNil(before), After: jsonOrNil(after)}
	if a.KeyID != 0 {
		entry.ActorKeyID = &a.KeyID
	}
	if a.UserID != 0 {
		entry.ActorUserID = &a.UserID
	}
	if targetID != 0 {
		entry.TargetID = &targetID
	}
	if a.IP.IsValid() {
		entry.Ip = &a.IP
	}
	return q.InsertAudit(ctx, entry)
}

func jsonOrNil(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// Change is a change and its entry in one transaction: change does the work with q and answers
// the target's id and its state before and after (nil for none). An error rolls back both.
func Change(ctx context.Context, db *pgxpool.Pool, by Actor, action, targetType string,
	change func(q *queries.Queries) (id int64, before, after any, err error)) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		id, before, after, err := change(q)
		if err != nil {
			return err
		}
		return Record(ctx, q, by, action, targetType, id, before, after)
	})
}
