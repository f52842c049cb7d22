package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/apikey"
)

// principal is who is calling: an API key of one account.
type principal struct {
	AccountID int64
	KeyID     int64
	KeyName   string
	Role      string
}

type principalKey struct{}

func caller(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
	Message: "send a valid API key as Authorization: Bearer dc_…"}

// authenticate checks the bearer key and puts its account in the request context. Every failure
// gets the same answer, so a caller cannot tell an unknown key from a revoked one.
func (s *Server) authenticate(next handlerFunc) handlerFunc {
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
		if err := s.q.TouchAPIKey(r.Context(), key.ID); err != nil {
			return err
		}
		p := principal{AccountID: key.AccountID, KeyID: key.ID, KeyName: key.Name, Role: key.Role}
		return next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}
