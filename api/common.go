package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/queries"
)

// Page sizes of every list endpoint.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// page is a list response: the items and the cursor of the next page, if there is one.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// pageParams reads ?limit= and ?cursor= (the id after which the page starts).
func pageParams(r *http.Request) (after int64, limit int, err error) {
	limit = defaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > maxPageSize {
			return 0, 0, errValidation("limit", "limit must be a whole number from 1 to %d", maxPageSize)
		}
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		after, err = strconv.ParseInt(v, 10, 64)
		if err != nil || after < 0 {
			return 0, 0, errValidation("cursor", "cursor must be the next_cursor of a previous page")
		}
	}
	return after, limit, nil
}

// newPage builds a page from up to limit+1 items: the extra one only says there is a next page.
func newPage[T any](items []T, limit int, id func(T) int64) page[T] {
	p := page[T]{Data: items}
	if p.Data == nil {
		p.Data = []T{}
	}
	if len(items) > limit {
		p.Data = items[:limit]
		c := strconv.FormatInt(id(items[limit-1]), 10)
		p.NextCursor = &c
	}
	return p
}

// pathID reads the {id} of the path; a malformed id is as unknown as a missing one.
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound(what)
	}
	return id, nil
}

// inTx runs fn in one transaction, so a change and its audit entry commit together.
func (s *Server) inTx(ctx context.Context, fn func(q *queries.Queries) error) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { return fn(s.q.WithTx(tx)) })
}

// audit appends who changed what, from where, to the account's audit log.
func (s *Server) audit(ctx context.Context, q *queries.Queries, action, targetType string, targetID int64, before, after any) error {
	return audit.Record(ctx, q, caller(ctx).actor(), action, targetType, targetID, before, after)
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	p := caller(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"account_id": p.AccountID, "key_id": p.KeyID, "key_name": p.KeyName, "role": p.Role})
	return nil
}

// listPage answers one page of a list: fetch reads up to lim rows after an id of the caller's
// account; view turns a row into what the API shows, and id gives the cursor of the next page.
func listPage[R, V any](w http.ResponseWriter, r *http.Request, fetch func(account, after int64, lim int32) ([]R, error),
	view func(R) (V, error), id func(V) int64) error {
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	rows, err := fetch(caller(r.Context()).AccountID, after, int32(limit+1))
	if err != nil {
		return err
	}
	views := make([]V, len(rows))
	for i, row := range rows {
		if views[i], err = view(row); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, id))
	return nil
}

// infallible adapts a view that cannot fail to listPage.
func infallible[R, V any](view func(R) V) func(R) (V, error) {
	return func(row R) (V, error) { return view(row), nil }
}
