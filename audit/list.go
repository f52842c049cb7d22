package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/spreadsheet"
)

// Entry is one change as the API and the console show it.
type Entry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	KeyID      *int64          `json:"key_id"`
	UserID     *int64          `json:"user_id"`
	KeyName    string          `json:"key_name"` // the actor's name: a key's, or a person's email
	IP         *string         `json:"ip"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   *int64          `json:"target_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

// Filter narrows the log; zero fields do not filter. Since is inclusive, Until exclusive.
type Filter struct {
	Action     string    `json:"action,omitempty"`
	TargetType string    `json:"target_type,omitempty"`
	TargetID   int64     `json:"target_id,omitempty"`
	KeyID      int64     `json:"key_id,omitempty"`
	User       int64     `json:"user_id,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Until      time.Time `json:"until,omitzero"`
}

// List reads up to limit entries of an account, newest first, older than the entry before (0:
// from the newest).
func List(ctx context.Context, q *queries.Queries, account int64, f Filter, before int64, limit int32) ([]Entry, error) {
	p := queries.ListAuditParams{AccountID: account, Before: before, Lim: limit}
	if f.Action != "" {
		p.Action = &f.Action
	}
	if f.TargetType != "" {
		p.TargetType = &f.TargetType
	}
	for _, v := range []struct {
		n   int64
		dst **int64
	}{{f.TargetID, &p.TargetID}, {f.KeyID, &p.KeyID}, {f.User, &p.UserID}} {
		if v.n != 0 {
			*v.dst = &v.n
		}
	}
	if !f.Since.IsZero() {
		p.Since = &f.Since
	}
	if !f.Until.IsZero() {
		p.Until = &f.Until
	}
	rows, err := q.ListAudit(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(rows))
	for i, a := range rows {
		out[i] = Entry{ID: a.ID, At: a.At, KeyID: a.ActorKeyID, UserID: a.ActorUserID, KeyName: a.ActorName, Action: a.Action,
			TargetType: a.TargetType, TargetID: a.TargetID, Before: a.Before, After: a.After}
		if a.Ip != nil {
			ip := a.Ip.String()
			out[i].IP = &ip
		}
	}
	return out, nil
}

// exportMax bounds one export: a longer log is exported in narrower time ranges.
const exportMax = 100_000

// Export writes the account's entries that f matches as CSV, newest first, at most exportMax,
// after an entry of its own: who took the log. Cells a spreadsheet would run are neutralized.
func Export(ctx context.Context, q *queries.Queries, by Actor, w io.Writer, f Filter) error {
	if err := Record(ctx, q, by, "audit_log.export", "account", by.AccountID, nil, f); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "who", "key_id", "user_id", "ip", "action", "target_type", "target_id", "before", "after"})
	var before int64
	for written := 0; written < exportMax; {
		entries, err := List(ctx, q, by.AccountID, f, before, 1000)
		if err != nil {
			return err
		}
		for _, e := range entries {
			_ = cw.Write([]string{e.At.UTC().Format(time.RFC3339), spreadsheet.SafeCell(e.KeyName), idCell(e.KeyID), idCell(e.UserID),
				deref(e.IP), e.Action, e.TargetType, idCell(e.TargetID), spreadsheet.SafeCell(string(e.Before)),
				spreadsheet.SafeCell(string(e.After))})
			before = e.ID
		}
		written += len(entries)
		if len(entries) < 1000 {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}

func idCell(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
