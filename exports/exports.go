// Package exports is the account's bulk downloads — a broadcast's recipients and the audit log,
// as CSV — under its approval rule: with exports_need_approval, an export by anyone but an owner
// is a request that another owner or admin approves, and the approved download works once, within
// an hour of the approval, for its requester only. Every step is audited.
package exports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
)

// Lifetime is how long an approved download works.
const Lifetime = time.Hour

// Asker is who asks: the audit actor (a key or a person) and its role.
type Asker struct {
	Actor audit.Actor
	Role  string
}

func (a Asker) is(r role.Set) bool { return role.Names[a.Role]&r != 0 }

// Request is what to export: kind "recipients" (BroadcastID, and Status to keep one status) or
// "audit" (Audit's filters; owners and admins only, as the audit log is).
type Request struct {
	Kind        string        `json:"kind"`
	BroadcastID int64         `json:"broadcast_id,omitempty"`
	Status      string        `json:"status,omitempty"`
	Audit       *audit.Filter `json:"audit,omitempty"`
}

// View is a request as the API and the console show it. Status is pending, approved, rejected,
// downloaded or expired (approved, but not downloaded within the hour).
type View struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	Params       Request    `json:"params"`
	RequestedBy  string     `json:"requested_by"`
	RequestedAt  time.Time  `json:"requested_at"`
	Status       string     `json:"status"`
	DecidedBy    *string    `json:"decided_by"`
	DecidedAt    *time.Time `json:"decided_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	DownloadedAt *time.Time `json:"downloaded_at"`
	// Mine: the asker made the request (and only they may download it).
	Mine bool `json:"mine"`
}

// ViewOf shows a stored request.
func ViewOf(r queries.ExportRequest) View {
	var p Request
	_ = json.Unmarshal(r.Params, &p)
	status := r.Status
	if status == "approved" && r.ExpiresAt != nil && !r.ExpiresAt.After(time.Now()) {
		status = "expired"
	}
	return View{ID: r.ID, Kind: r.Kind, Params: p, RequestedBy: r.RequesterName, RequestedAt: r.RequestedAt, Status: status,
		DecidedBy: r.DecidedByName, DecidedAt: r.DecidedAt, ExpiresAt: r.ExpiresAt, DownloadedAt: r.DownloadedAt}
}

// recordOf is a request as the audit log keeps it (without whose it is to a reader).
func recordOf(r queries.ExportRequest) any {
	return struct {
		View
		Mine bool `json:"mine,omitempty"`
	}{View: ViewOf(r)}
}

// view shows a stored request to the asker.
func (a Asker) view(r queries.ExportRequest) View {
	v := ViewOf(r)
	v.Mine = a.Mine(r)
	return v
}

// Mine tells whether the request is the asker's own.
func (a Asker) Mine(r queries.ExportRequest) bool {
	if a.Actor.KeyID != 0 {
		return r.RequestedByKey != nil && *r.RequestedByKey == a.Actor.KeyID
	}
	return r.RequestedByUser != nil && *r.RequestedByUser == a.Actor.UserID
}

// NeedsApproval tells whether the asker's bulk exports wait for approval.
func NeedsApproval(ctx context.Context, q *queries.Queries, by Asker) (bool, error) {
	a, err := q.GetAccount(ctx, by.Actor.AccountID)
	if err != nil {
		return false, err
	}
	return a.ExportsNeedApproval && !by.is(role.Owner), nil
}

// ErrApprovalRequired answers a direct bulk download when the account wants approval for it.
var ErrApprovalRequired = &invalid.Error{Code: invalid.CodeApprovalRequired,
	Message: "this account's bulk exports need an owner's or admin's approval: request one (POST /v1/exports, or the console's Exports page)"}

// Direct is the check before a direct bulk download (the recipients CSV, the audit CSV): nil
// when the asker may download without a request.
func Direct(ctx context.Context, q *queries.Queries, by Asker) error {
	wait, err := NeedsApproval(ctx, q, by)
	if err == nil && wait {
		return ErrApprovalRequired
	}
	return err
}

// SetNeedApproval turns the account's approval rule on or off (owners only: the route checks).
func SetNeedApproval(ctx context.Context, db *pgxpool.Pool, by audit.Actor, need bool) error {
	return audit.Change(ctx, db, by, "account.exports_need_approval", "account", func(q *queries.Queries) (int64, any, any, error) {
		before, err := q.GetAccount(ctx, by.AccountID)
		if err != nil {
			return 0, nil, nil, err
		}
		_, err = q.SetExportsNeedApproval(ctx, queries.SetExportsNeedApprovalParams{Need: need, ID: by.AccountID})
		return by.AccountID, map[string]bool{"required": before.ExportsNeedApproval}, map[string]bool{"required": need}, err
	})
}

// Ask records a request for an export: pending when the account wants approval for the asker,
// else approved at once (the download then works for an hour, once).
func Ask(ctx context.Context, db *pgxpool.Pool, by Asker, in Request) (View, error) {
	q := queries.New(db)
	if err := check(ctx, q, by, &in); err != nil {
		return View{}, err
	}
	wait, err := NeedsApproval(ctx, q, by)
	if err != nil {
		return View{}, err
	}
	params, _ := json.Marshal(in)
	row := queries.InsertExportRequestParams{AccountID: by.Actor.AccountID, Kind: in.Kind, Params: params,
		RequesterName: by.Actor.Name, Status: "pending", LifetimeSeconds: int32(Lifetime.Seconds())}
	if by.Actor.KeyID != 0 {
		row.RequestedByKey = &by.Actor.KeyID
	} else {
		row.RequestedByUser = &by.Actor.UserID
	}
	if !wait {
		row.Status, row.DecidedByName = "approved", &by.Actor.Name
	}
	var out queries.ExportRequest
	err = audit.Change(ctx, db, by.Actor, "export.requested", "export", func(q *queries.Queries) (int64, any, any, error) {
		out, err = q.InsertExportRequest(ctx, row)
		return out.ID, nil, recordOf(out), err
	})
	return by.view(out), err
}

// check validates a request and that the asker may read what it exports.
func check(ctx context.Context, q *queries.Queries, by Asker, in *Request) error {
	switch in.Kind {
	case "recipients":
		if in.Audit != nil {
			return invalid.Field("audit", "only for kind audit")
		}
		if _, err := broadcast.StatusFilter(in.Status); err != nil {
			return err
		}
		if _, err := q.GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: by.Actor.AccountID, ID: in.BroadcastID}); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return invalid.Field("broadcast_id", "no broadcast %d in this account", in.BroadcastID)
			}
			return err
		}
	case "audit":
		if !by.is(role.Admins) {
			return invalid.Forbidden("only owners and admins read the audit log")
		}
		if in.BroadcastID != 0 || in.Status != "" {
			return invalid.Field("broadcast_id", "only for kind recipients")
		}
		if in.Audit == nil {
			in.Audit = &audit.Filter{}
		}
	default:
		return invalid.Field("kind", "recipients or audit")
	}
	return nil
}

// load is one request of the asker's account.
func load(ctx context.Context, q *queries.Queries, by Asker, id int64) (queries.ExportRequest, error) {
	req, err := q.GetExportRequest(ctx, queries.GetExportRequestParams{AccountID: by.Actor.AccountID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return req, invalid.NotFound("export")
	}
	return req, err
}

// Decide approves or rejects a pending request of the account; nobody decides their own.
func Decide(ctx context.Context, db *pgxpool.Pool, by Asker, id int64, approve bool) (View, error) {
	q := queries.New(db)
	req, err := load(ctx, q, by, id)
	if err != nil {
		return View{}, err
	}
	if by.Mine(req) {
		return View{}, invalid.Conflict("another owner or admin decides your own request")
	}
	status, action := "rejected", "export.rejected"
	if approve {
		status, action = "approved", "export.approved"
	}
	var out queries.ExportRequest
	err = audit.Change(ctx, db, by.Actor, action, "export", func(q *queries.Queries) (int64, any, any, error) {
		out, err = q.DecideExportRequest(ctx, queries.DecideExportRequestParams{Status: status, DecidedByName: &by.Actor.Name,
			LifetimeSeconds: int32(Lifetime.Seconds()), AccountID: by.Actor.AccountID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, nil, invalid.Conflict("request %d is %s, no longer pending", id, ViewOf(req).Status)
		}
		return id, recordOf(req), recordOf(out), err
	})
	return by.view(out), err
}

// Download writes the request's export as CSV, once: the request must be the asker's, approved,
// and within the hour; it turns downloaded before the first byte (a failed transfer is asked
// again). masked masks phone numbers (an analyst's); read is the replica's queries, or q's.
func Download(ctx context.Context, db *pgxpool.Pool, read *queries.Queries, by Asker, id int64, w io.Writer, header func(filename string), masked bool) error {
	q := queries.New(db)
	req, err := load(ctx, q, by, id)
	if err != nil {
		return err
	}
	if !by.Mine(req) {
		return invalid.Forbidden("only who requested an export downloads it")
	}
	var key, user *int64
	if by.Actor.KeyID != 0 {
		key = &by.Actor.KeyID
	} else {
		user = &by.Actor.UserID
	}
	err = audit.Change(ctx, db, by.Actor, "export.downloaded", "export", func(q *queries.Queries) (int64, any, any, error) {
		taken, err := q.TakeExportDownload(ctx, queries.TakeExportDownloadParams{AccountID: by.Actor.AccountID, ID: id, KeyID: key, UserID: user})
		if errors.Is(err, pgx.ErrNoRows) {
			if st := ViewOf(req).Status; st == "pending" || st == "rejected" {
				return 0, nil, nil, invalid.Conflict("export %d is %s: it downloads once approved", id, st)
			}
			return 0, nil, nil, invalid.Gone("export %d is %s: an approved export downloads once, within %s of its approval", id, ViewOf(req).Status, Lifetime)
		}
		return id, nil, recordOf(taken), err
	})
	if err != nil {
		return err
	}
	p := ViewOf(req).Params
	switch req.Kind {
	case "recipients":
		b, err := q.GetBroadcast(ctx, queries.GetBroadcastParams{AccountID: by.Actor.AccountID, ID: p.BroadcastID})
		if err != nil {
			return err
		}
		status, _ := broadcast.StatusFilter(p.Status)
		header(fmt.Sprintf("broadcast-%d-recipients.csv", b.ID))
		return broadcast.ExportRecipients(ctx, q, read, by.Actor, w, b, status, masked)
	default:
		header("audit-log.csv")
		return audit.Export(ctx, q, by.Actor, w, *p.Audit)
	}
}

// Get is one request of the account: the asker's own, or any to an owner or admin (another's is
// not found to the others).
func Get(ctx context.Context, q *queries.Queries, by Asker, id int64) (View, error) {
	req, err := load(ctx, q, by, id)
	if err != nil {
		return View{}, err
	}
	if !by.Mine(req) && !by.is(role.Admins) {
		return View{}, invalid.NotFound("export")
	}
	return by.view(req), nil
}

// List pages through the account's requests, newest first: every one for owners and admins, the
// asker's own for the others.
func List(ctx context.Context, q *queries.Queries, by Asker, before int64, limit int32) ([]View, error) {
	p := queries.ListExportRequestsParams{AccountID: by.Actor.AccountID, Before: before, Lim: limit, Mine: !by.is(role.Admins)}
	if by.Actor.KeyID != 0 {
		p.KeyID = &by.Actor.KeyID
	} else {
		p.UserID = &by.Actor.UserID
	}
	if p.Before == 0 {
		p.Before = 1<<63 - 1
	}
	rows, err := q.ListExportRequests(ctx, p)
	views := make([]View, len(rows))
	for i, r := range rows {
		views[i] = by.view(r)
	}
	return views, err
}
