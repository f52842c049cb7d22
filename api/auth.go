package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/role"
)

// principal is who is calling: an API key of one account, from an address.
type principal struct {
	AccountID int64
	KeyID     int64
	KeyName   string
	Role      string
	IP        netip.Addr
}

// actor is the caller as the author of audit entries.
func (p principal) actor() audit.Actor {
	return audit.Actor{AccountID: p.AccountID, KeyID: p.KeyID, Name: p.KeyName, IP: p.IP}
}

type principalKey struct{}

func caller(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
		Message: "send a valid API key as Authorization: Bearer dc_…"}
	errForbiddenRole = &Error{Status: http.StatusForbidden, Code: CodeForbidden,
		Message: "this key's role may not do this"}
	errForbiddenIP = &Error{Status: http.StatusForbidden, Code: CodeForbidden,
		Message: "this account does not accept calls from your address"}
)

// authenticate checks the bearer key, the caller's address and the key's request rate, then the
// route's roles, and puts the caller in the request context. Every key failure gets the same
// answer, so a caller cannot tell an unknown key from a revoked one.
func (s *Server) authenticate(allowed role.Set, next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return errUnauthorized
		}
		prefix, secret, ok := apikey.Parse(strings.TrimSpace(token))
		if !ok {
			return errUnauthorized
		}
		key, err := s.q.GetAPIKeyByPrefix(r.Context(), prefix)
		if errors.Is(err, pgx.ErrNoRows) {
			return errUnauthorized
		}
		if err != nil {
			return err
		}
		if !apikey.Matches(secret, key.SecretHash) || key.RevokedAt != nil ||
			(key.ExpiresAt != nil && time.Now().After(*key.ExpiresAt)) {
			return errUnauthorized
		}
		ip := s.clientIP(r)
		if !account.Allowed(key.AllowedIps, ip) {
			return errForbiddenIP
		}
		if err := s.limits.allow(w, key.ID, "for this key"); err != nil {
			return err
		}
		if !allowed.Allows(key.Role) {
			return errForbiddenRole
		}
		if err := s.q.TouchAPIKey(r.Context(), key.ID); err != nil {
			return err
		}
		p := principal{AccountID: key.AccountID, KeyID: key.ID, KeyName: key.Name, Role: key.Role, IP: ip}
		if !role.SeesPhones(key.Role) {
			w = newMaskingWriter(w)
			defer w.(*maskingWriter).flush()
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// clientIP is the caller's address (iprange.ClientIP: forwarded only by a trusted proxy).
func (s *Server) clientIP(r *http.Request) netip.Addr {
	return iprange.ClientIP(r, s.opts.TrustedProxies)
}
