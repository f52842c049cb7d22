package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/iprange"
)

// roles is a set of key roles; every route that takes an API key declares the roles it allows.
type roles uint8

const (
	roleOwner       roles = 1 << iota // everything, key management included
	roleAdmin                         // everything but keys
	roleMarketer                      // audience, templates, broadcasts, sequences
	roleAnalyst                       // reads, with phone numbers masked
	roleIntegration                   // events only (and integration webhooks, which are signed)
)

// The role sets routes use.
const (
	admins  = roleOwner | roleAdmin
	editors = admins | roleMarketer
	readers = editors | roleAnalyst
	ingest  = editors | roleIntegration
	anyRole = readers | roleIntegration
)

// roleNames are the roles as keys store them.
var roleNames = map[string]roles{"owner": roleOwner, "admin": roleAdmin, "marketer": roleMarketer,
	"analyst": roleAnalyst, "integration": roleIntegration}

// principal is who is calling: an API key of one account, from an address.
type principal struct {
	AccountID int64
	KeyID     int64
	KeyName   string
	Role      string
	IP        netip.Addr
}

// author is the caller as the writer of contacts: consent changes record its key.
func (p principal) author() contacts.Author {
	return contacts.Author{By: fmt.Sprintf("key:%d", p.KeyID)}
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
func (s *Server) authenticate(allowed roles, next handlerFunc) handlerFunc {
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
		if !ipAllowed(key.AllowedIps, ip) {
			return errForbiddenIP
		}
		if err := s.limits.allow(w, key.ID, "for this key"); err != nil {
			return err
		}
		if roleNames[key.Role]&allowed == 0 {
			return errForbiddenRole
		}
		if err := s.q.TouchAPIKey(r.Context(), key.ID); err != nil {
			return err
		}
		p := principal{AccountID: key.AccountID, KeyID: key.ID, KeyName: key.Name, Role: key.Role, IP: ip}
		if key.Role == "analyst" {
			w = newMaskingWriter(w)
			defer w.(*maskingWriter).flush()
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// clientIP is the connection's address, or, when that is a trusted proxy, the last address in
// X-Forwarded-For that is not one: earlier entries can be forged by the client.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ip := remoteIP(r)
	if !s.trusted(ip) {
		return ip
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip
		}
		if ip = hop.Unmap(); !s.trusted(ip) {
			return ip
		}
	}
	return ip
}

func (s *Server) trusted(ip netip.Addr) bool { return iprange.Contains(s.opts.TrustedProxies, ip) }

func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}

// ipAllowed: an empty list accepts every address.
func ipAllowed(allowed []netip.Prefix, ip netip.Addr) bool {
	return len(allowed) == 0 || iprange.Contains(allowed, ip)
}
