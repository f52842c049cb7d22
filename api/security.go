package api

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
)

// keyView is an API key as the API shows it: never its secret, except once, when it is made.
type keyView struct {
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

func viewKey(k queries.ListAPIKeysRow) keyView {
	return keyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Role: k.Role, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
		RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
}

// createKey makes a key; its secret is in this answer only (the database keeps a hash).
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string     `json:"name"`
		Role      string     `json:"role"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "" || len(in.Name) > 200:
		return errValidation("name", "name is required, at most 200 characters")
	case role.Names[in.Role] == 0:
		return errValidation("role", "role is owner, admin, marketer, analyst or integration")
	case in.ExpiresAt != nil && !in.ExpiresAt.After(time.Now()):
		return errValidation("expires_at", "expires_at must be in the future")
	}
	ctx, p := r.Context(), caller(r.Context())
	k := apikey.New()
	var view keyView
	err := s.inTx(ctx, func(q *queries.Queries) error {
		row, err := q.CreateAPIKey(ctx, queries.CreateAPIKeyParams{AccountID: p.AccountID, Name: in.Name, Prefix: k.Prefix,
			SecretHash: k.Hash, Role: in.Role, ExpiresAt: in.ExpiresAt})
		if err != nil {
			return err
		}
		view = keyView{ID: row.ID, Name: row.Name, Prefix: row.Prefix, Role: row.Role, ExpiresAt: row.ExpiresAt, CreatedAt: row.CreatedAt}
		return s.audit(ctx, q, "api_key.create", "api_key", row.ID, nil, view)
	})
	if err != nil {
		return err
	}
	view.Key = k.Token
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.ListAPIKeysRow, error) {
		return s.q.ListAPIKeys(r.Context(), queries.ListAPIKeysParams{AccountID: account, After: after, Lim: lim})
	}, infallible(viewKey), func(v keyView) int64 { return v.ID })
}

// revokeKey ends a key at once. The account's last working owner key cannot be revoked: nobody
// could manage keys after it.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "api key")
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusNoContent, "api_key.revoke", "api_key", func(q *queries.Queries) (change, error) {
		if err := q.LockAccount(ctx, p.AccountID); err != nil {
			return change{}, err
		}
		before, err := q.GetAPIKey(ctx, queries.GetAPIKeyParams{AccountID: p.AccountID, ID: id})
		if err != nil {
			return change{}, notFoundAs(err, "api key")
		}
		k, err := q.RevokeAPIKey(ctx, queries.RevokeAPIKeyParams{AccountID: p.AccountID, ID: id})
		if isNoRows(err) {
			return change{}, &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "the key is revoked already"}
		}
		if err != nil {
			return change{}, err
		}
		if owners, err := q.CountActiveOwnerKeys(ctx, p.AccountID); err != nil || owners == 0 {
			if err == nil {
				err = &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "this is the account's last owner key; make another first"}
			}
			return change{}, err
		}
		return change{id, viewKey(queries.ListAPIKeysRow(before)), viewKey(queries.ListAPIKeysRow(k))}, nil
	})
}

// allowedIPsBody is the body and answer of /v1/account/allowed-ips.
type allowedIPsBody struct {
	AllowedIPs []string `json:"allowed_ips"`
}

// maxAllowedIPs bounds the list an account keeps.
const maxAllowedIPs = 100

func viewAllowedIPs(list []netip.Prefix) allowedIPsBody {
	out := allowedIPsBody{AllowedIPs: []string{}}
	for _, p := range list {
		if p.IsSingleIP() {
			out.AllowedIPs = append(out.AllowedIPs, p.Addr().String())
		} else {
			out.AllowedIPs = append(out.AllowedIPs, p.String())
		}
	}
	return out
}

func (s *Server) getAllowedIPs(w http.ResponseWriter, r *http.Request) error {
	acct, err := s.q.GetAccount(r.Context(), caller(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAllowedIPs(acct.AllowedIps))
	return nil
}

// putAllowedIPs replaces the list; one that would shut out the caller's own address is refused.
func (s *Server) putAllowedIPs(w http.ResponseWriter, r *http.Request) error {
	var in allowedIPsBody
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if len(in.AllowedIPs) > maxAllowedIPs {
		return errValidation("allowed_ips", "at most %d entries", maxAllowedIPs)
	}
	list := make([]netip.Prefix, 0, len(in.AllowedIPs))
	for i, v := range in.AllowedIPs {
		p, err := iprange.Parse(v)
		if err != nil {
			return errValidation("allowed_ips", "allowed_ips[%d]: %q is not an address or a CIDR range", i, v)
		}
		list = append(list, p)
	}
	ctx, p := r.Context(), caller(r.Context())
	if !ipAllowed(list, p.IP) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: "the list does not include your own address (" + p.IP.String() + "); add it, or you would lock yourself out"}
	}
	return s.mutate(w, r, http.StatusOK, "account.allowed_ips", "account", func(q *queries.Queries) (change, error) {
		before, err := q.GetAccount(ctx, p.AccountID)
		if err != nil {
			return change{}, err
		}
		after, err := q.SetAllowedIPs(ctx, queries.SetAllowedIPsParams{AllowedIps: list, ID: p.AccountID})
		return change{p.AccountID, viewAllowedIPs(before.AllowedIps), viewAllowedIPs(after)}, err
	})
}

type auditView struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	KeyID      *int64          `json:"key_id"`
	KeyName    string          `json:"key_name"`
	IP         *string         `json:"ip"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   *int64          `json:"target_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
}

// auditLog pages through the account's audit log, newest first, with filters.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	params := queries.ListAuditParams{AccountID: caller(r.Context()).AccountID, Before: before, Lim: int32(limit + 1)}
	if v := q.Get("action"); v != "" {
		params.Action = &v
	}
	if v := q.Get("target_type"); v != "" {
		params.TargetType = &v
	}
	for name, dst := range map[string]**int64{"target_id": &params.TargetID, "key_id": &params.KeyID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errValidation(name, "%s is a whole number", name)
			}
			*dst = &n
		}
	}
	for name, dst := range map[string]**time.Time{"since": &params.Since, "until": &params.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return errValidation(name, "%s is an RFC 3339 time such as 2026-12-01T00:00:00Z", name)
			}
			*dst = &t
		}
	}
	rows, err := s.q.ListAudit(r.Context(), params)
	if err != nil {
		return err
	}
	views := make([]auditView, len(rows))
	for i, a := range rows {
		views[i] = auditView{ID: a.ID, At: a.At, KeyID: a.ActorKeyID, KeyName: a.ActorName, Action: a.Action,
			TargetType: a.TargetType, TargetID: a.TargetID, Before: a.Before, After: a.After}
		if a.Ip != nil {
			ip := a.Ip.String()
			views[i].IP = &ip
		}
	}
	writeJSON(w, http.StatusOK, newPage(views, limit, func(v auditView) int64 { return v.ID }))
	return nil
}
