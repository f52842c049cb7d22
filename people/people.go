// Package people is who signs in to the console: users of an account, their passwords (argon2id),
// TOTP and recovery codes, one-time links, sessions kept in Postgres, and the back-off that slows
// password guessing. Pages live in the console package; the rules live here.
package people

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/text/language"

	"github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/secrets"
)

// Lifetimes.
const (
	IdleTimeout     = 30 * time.Minute // a session unused this long ends
	AbsoluteTimeout = 12 * time.Hour   // a session ends this long after sign-in, used or not
	MFATimeout      = 10 * time.Minute // the time to enter a code after the password
	LinkLifetime    = 72 * time.Hour   // one-time links (first sign-in, invites)
	recoveryCodes   = 10
)

// Throttling: failures a key gets free before each further one doubles its wait. An address is
// shared by a whole office, so it gets more.
const (
	freeUserFailures = 5
	freeAddrFailures = 20
)

// Session stages.
const (
	StageMFA    = "mfa"    // the password was right; a code is still due
	StageEnrol  = "enrol"  // the account requires MFA this user has not set up
	StageActive = "active" // signed in
)

// Errors a sign-in page shows as they are.
var (
	// ErrCredentials is every wrong email or password alike, so neither can be probed.
	ErrCredentials = errors.New("the email or password is not right")
	ErrCode        = errors.New("the code is not right, or was used already")
	ErrNoSession   = errors.New("not signed in")
	ErrLink        = errors.New("this link is not valid: it was used already, or it expired")
	ErrAddress     = errors.New("this account does not accept sign-ins from your address")
)

// Throttled is a sign-in refused unchecked until After.
type Throttled struct{ After time.Time }

func (t *Throttled) Error() string {
	return fmt.Sprintf("too many failed sign-ins; try again in %s", time.Until(t.After).Round(time.Second))
}

// Service runs the rules.
type Service struct {
	db  *pgxpool.Pool
	q   *queries.Queries
	box *secrets.Box
}

// New builds the service; box seals TOTP secrets.
func New(db *pgxpool.Pool, box *secrets.Box) *Service {
	return &Service{db: db, q: queries.New(db), box: box}
}

// Session is a signed-in browser and whose it is. Token is set only when the session was just
// made (the caller puts it in a cookie).
type Session struct {
	Token       string
	UserID      int64
	AccountID   int64
	AccountName string
	Email       string
	Role        string
	Stage       string
	CSRF        string
	HasMFA      bool
	TimeZone    string
	Locale      string
	AllowedIPs  []netip.Prefix
	ExpiresAt   time.Time
}

// Actor is the session's user as the author of audit entries.
func (s Session) Actor(ip netip.Addr) audit.Actor {
	return audit.Actor{AccountID: s.AccountID, UserID: s.UserID, Name: s.Email, IP: ip}
}

// Allows tells whether the account accepts this address (an empty list accepts any).
func (s Session) Allows(ip netip.Addr) bool {
	return account.Allowed(s.AllowedIPs, ip)
}

// Invite creates a user of by's account and a one-time link token (valid LinkLifetime) with which
// the person sets a password. by names who invited (an empty actor is the command line).
func (s *Service) Invite(ctx context.Context, by audit.Actor, email, roleName string) (queries.User, string, error) {
	addr, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || addr.Name != "" || len(addr.Address) > 254 {
		return queries.User{}, "", invalid.Field("email", "give an email address such as ana@example.com")
	}
	if !slices.Contains(role.People, roleName) {
		return queries.User{}, "", invalid.Field("role", "role is one of %s", strings.Join(role.People, ", "))
	}
	params := queries.CreateUserParams{AccountID: by.AccountID, Email: strings.ToLower(addr.Address), Role: roleName}
	if by.UserID != 0 {
		params.InvitedBy = &by.UserID
	}
	var u queries.User
	token := newToken()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if u, err = q.CreateUser(ctx, params); err != nil {
			if isUnique(err) {
				return invalid.Field("email", "a user with this email exists already")
			}
			return err
		}
		if err := q.CreateUserLink(ctx, queries.CreateUserLinkParams{TokenHash: hash(token), AccountID: u.AccountID, UserID: u.ID,
			ExpiresAt: time.Now().Add(LinkLifetime)}); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "user.invite", "user", u.ID, nil, map[string]any{"email": u.Email, "role": u.Role})
	})
	return u, token, err
}

// LinkUser is the user a one-time link is for, without spending it.
func (s *Service) LinkUser(ctx context.Context, token string) (queries.PeekUserLinkRow, error) {
	u, err := s.q.PeekUserLink(ctx, hash(token))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrLink
	}
	return u, err
}

// SetPasswordByLink spends a one-time link: the user's password becomes password, every other
// session of the user ends, and a new session starts.
func (s *Service) SetPasswordByLink(ctx context.Context, token, password string, ip netip.Addr) (Session, error) {
	peek, err := s.LinkUser(ctx, token)
	if err != nil {
		return Session{}, err
	}
	if err := CheckPassword(password, peek.Email); err != nil {
		return Session{}, err
	}
	var userID int64
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if userID, err = q.UseUserLink(ctx, hash(token)); errors.Is(err, pgx.ErrNoRows) {
			return ErrLink
		} else if err != nil {
			return err
		}
		if err := q.SetPassword(ctx, queries.SetPasswordParams{PasswordHash: new(hashPassword(password)), AccountID: peek.AccountID, ID: userID}); err != nil {
			return err
		}
		if err := q.DeleteUserSessions(ctx, queries.DeleteUserSessionsParams{UserID: userID, Keep: []byte{}}); err != nil {
			return err
		}
		return audit.Record(ctx, q, audit.Actor{AccountID: peek.AccountID, UserID: userID, Name: peek.Email, IP: ip},
			"user.set_password", "user", userID, nil, nil)
	})
	if err != nil {
		return Session{}, err
	}
	return s.SignIn(ctx, peek.Email, password, ip)
}

// SignIn checks an email and password. The session it starts is active, or waits for a code
// (StageMFA), or for MFA to be set up (StageEnrol) when the account requires it.
func (s *Service) SignIn(ctx context.Context, email, password string, ip netip.Addr) (Session, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if err := s.throttled(ctx, "ip:"+ip.String()); err != nil {
		return Session{}, err
	}
	u, err := s.q.GetUserByEmail(ctx, email)
	if errors.Is(err, pgx.ErrNoRows) {
		_, _ = passwordMatches(password, decoyHash)
		return Session{}, s.fail(ctx, nil, ip)
	}
	if err != nil {
		return Session{}, err
	}
	if err := s.throttled(ctx, userKey(u.ID)); err != nil {
		return Session{}, err
	}
	if u.PasswordHash == nil {
		_, _ = passwordMatches(password, decoyHash)
		return Session{}, s.fail(ctx, &u, ip)
	}
	if ok, err := passwordMatches(password, *u.PasswordHash); err != nil || !ok {
		return Session{}, s.fail(ctx, &u, ip)
	}
	if len(u.AllowedIps) > 0 && !iprange.Contains(u.AllowedIps, ip) {
		return Session{}, ErrAddress
	}
	if err := s.q.ClearThrottle(ctx, userKey(u.ID)); err != nil {
		return Session{}, err
	}
	stage, lifetime := StageActive, AbsoluteTimeout
	switch {
	case u.TotpConfirmedAt != nil:
		stage, lifetime = StageMFA, MFATimeout
	case u.RequireMfa:
		stage = StageEnrol
	}
	sess, err := s.start(ctx, u.ID, u.AccountID, stage, lifetime, ip)
	if err == nil && stage != StageMFA {
		err = audit.Record(ctx, s.q, audit.Actor{AccountID: u.AccountID, UserID: u.ID, Name: u.Email, IP: ip}, "user.sign_in", "user", u.ID, nil, nil)
	}
	return sess, err
}

func userKey(id int64) string { return fmt.Sprintf("user:%d", id) }

// throttled refuses a key that failed too often, until its wait is over.
func (s *Service) throttled(ctx context.Context, key string) error {
	until, err := s.q.GetThrottle(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if time.Now().Before(until) {
		return &Throttled{After: until}
	}
	return nil
}

// fail counts a failed sign-in against the address and the user (when the email is one), and
// audits it in the user's account.
func (s *Service) fail(ctx context.Context, u *queries.GetUserByEmailRow, ip netip.Addr) error {
	if _, err := s.q.FailThrottle(ctx, queries.FailThrottleParams{Key: "ip:" + ip.String(), Free: freeAddrFailures}); err != nil {
		return err
	}
	if u == nil {
		return ErrCredentials
	}
	if _, err := s.q.FailThrottle(ctx, queries.FailThrottleParams{Key: userKey(u.ID), Free: freeUserFailures}); err != nil {
		return err
	}
	if err := audit.Record(ctx, s.q, audit.Actor{AccountID: u.AccountID, UserID: u.ID, Name: u.Email, IP: ip},
		"user.sign_in_failed", "user", u.ID, nil, nil); err != nil {
		return err
	}
	return ErrCredentials
}

// start makes a session row and its token.
func (s *Service) start(ctx context.Context, userID, accountID int64, stage string, lifetime time.Duration, ip netip.Addr) (Session, error) {
	token := newToken()
	params := queries.CreateSessionParams{TokenHash: hash(token), UserID: userID, AccountID: accountID, Stage: stage,
		CsrfToken: newToken(), ExpiresAt: time.Now().Add(lifetime)}
	if ip.IsValid() {
		params.Ip = &ip
	}
	if err := s.q.CreateSession(ctx, params); err != nil {
		return Session{}, err
	}
	sess, err := s.Load(ctx, token)
	sess.Token = token
	return sess, err
}

// Load is the session of a cookie's token, if it is neither expired nor idle.
func (s *Service) Load(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	row, err := s.q.GetSession(ctx, queries.GetSessionParams{TokenHash: hash(token), IdleAfter: time.Now().Add(-IdleTimeout)})
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	if err := s.q.TouchSession(ctx, row.TokenHash); err != nil {
		return Session{}, err
	}
	return Session{UserID: row.UserID, AccountID: row.AccountID, AccountName: row.AccountName, Email: row.Email, Role: row.Role,
		Stage: row.Stage, CSRF: row.CsrfToken, HasMFA: row.TotpConfirmedAt != nil, TimeZone: row.TimeZone, Locale: row.Locale,
		AllowedIPs: row.AllowedIps, ExpiresAt: row.ExpiresAt}, nil
}

// promote ends a session and starts an active one in its place (a new token: a session moves to
// more rights only under a token nobody saw before).
func (s *Service) promote(ctx context.Context, token string, sess Session, ip netip.Addr) (Session, error) {
	if err := s.q.DeleteSession(ctx, hash(token)); err != nil {
		return Session{}, err
	}
	next, err := s.start(ctx, sess.UserID, sess.AccountID, StageActive, AbsoluteTimeout, ip)
	if err != nil {
		return Session{}, err
	}
	return next, audit.Record(ctx, s.q, sess.Actor(ip), "user.sign_in", "user", sess.UserID, nil, map[string]any{"mfa": true})
}

// VerifyMFA finishes a sign-in with a TOTP code or a recovery code.
func (s *Service) VerifyMFA(ctx context.Context, token, code string, ip netip.Addr) (Session, error) {
	sess, err := s.Load(ctx, token)
	if err != nil {
		return Session{}, err
	}
	if sess.Stage != StageMFA {
		return Session{}, ErrNoSession
	}
	if err := s.throttled(ctx, userKey(sess.UserID)); err != nil {
		return Session{}, err
	}
	ok, err := s.checkCode(ctx, sess, code)
	if err != nil {
		return Session{}, err
	}
	if !ok {
		if _, err := s.q.FailThrottle(ctx, queries.FailThrottleParams{Key: userKey(sess.UserID), Free: freeUserFailures}); err != nil {
			return Session{}, err
		}
		return Session{}, errors.Join(ErrCode, audit.Record(ctx, s.q, sess.Actor(ip), "user.mfa_failed", "user", sess.UserID, nil, nil))
	}
	if err := s.q.ClearThrottle(ctx, userKey(sess.UserID)); err != nil {
		return Session{}, err
	}
	return s.promote(ctx, token, sess, ip)
}

// checkCode accepts a TOTP code (each step once) or an unused recovery code.
func (s *Service) checkCode(ctx context.Context, sess Session, code string) (bool, error) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) == 6 {
		secret, err := s.secret(ctx, sess)
		if err != nil {
			return false, err
		}
		step := totpStep(secret, code, time.Now())
		if step == 0 {
			return false, nil
		}
		n, err := s.q.UseTOTPStep(ctx, queries.UseTOTPStepParams{Step: step, AccountID: sess.AccountID, ID: sess.UserID})
		return n == 1, err
	}
	n, err := s.q.UseRecoveryCode(ctx, queries.UseRecoveryCodeParams{AccountID: sess.AccountID, UserID: sess.UserID,
		CodeHash: hash(normalRecovery(code))})
	return n == 1, err
}

func (s *Service) secret(ctx context.Context, sess Session) (string, error) {
	u, err := s.q.GetUser(ctx, queries.GetUserParams{AccountID: sess.AccountID, ID: sess.UserID})
	if err != nil {
		return "", err
	}
	if u.TotpSecretEnc == nil {
		return "", ErrCode
	}
	return s.box.Open(u.TotpSecretEnc, secrets.UserTOTP(u.ID))
}

// Enrolment is a TOTP secret offered to a user: the key to type and the otpauth:// address.
type Enrolment struct {
	Secret string
	URL    string
}

// StartEnrol offers a new TOTP secret to a user who has none confirmed.
func (s *Service) StartEnrol(ctx context.Context, sess Session) (Enrolment, error) {
	if sess.HasMFA {
		return Enrolment{}, invalid.Conflict("two-step sign-in is already on")
	}
	key, err := newTOTPKey(sess.Email)
	if err != nil {
		return Enrolment{}, err
	}
	err = s.q.SetTOTPSecret(ctx, queries.SetTOTPSecretParams{TotpSecretEnc: s.box.Seal(key.Secret(), secrets.UserTOTP(sess.UserID)),
		AccountID: sess.AccountID, ID: sess.UserID})
	return Enrolment{Secret: key.Secret(), URL: key.URL()}, err
}

// ConfirmEnrol turns MFA on when code matches the offered secret, and returns ten recovery codes
// (shown once). A session waiting for enrolment becomes active, under a new token.
func (s *Service) ConfirmEnrol(ctx context.Context, token, code string, ip netip.Addr) ([]string, Session, error) {
	sess, err := s.Load(ctx, token)
	if err != nil {
		return nil, Session{}, err
	}
	if sess.HasMFA || (sess.Stage != StageActive && sess.Stage != StageEnrol) {
		return nil, Session{}, invalid.Conflict("two-step sign-in is already on")
	}
	ok, err := s.checkCode(ctx, sess, code)
	if err != nil {
		return nil, Session{}, err
	}
	if !ok {
		return nil, Session{}, invalid.Field("code", "%s", ErrCode.Error())
	}
	codes := make([]string, recoveryCodes)
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.ConfirmTOTP(ctx, queries.ConfirmTOTPParams{AccountID: sess.AccountID, ID: sess.UserID}); err != nil {
			return err
		}
		if err := q.DeleteRecoveryCodes(ctx, queries.DeleteRecoveryCodesParams{AccountID: sess.AccountID, UserID: sess.UserID}); err != nil {
			return err
		}
		for i := range codes {
			codes[i] = newRecoveryCode()
			if err := q.InsertRecoveryCode(ctx, queries.InsertRecoveryCodeParams{AccountID: sess.AccountID, UserID: sess.UserID,
				CodeHash: hash(codes[i])}); err != nil {
				return err
			}
		}
		return audit.Record(ctx, q, sess.Actor(ip), "user.mfa_enable", "user", sess.UserID, nil, nil)
	})
	if err != nil {
		return nil, Session{}, err
	}
	if sess.Stage == StageEnrol {
		sess, err = s.promote(ctx, token, sess, ip)
	}
	return codes, sess, err
}

// ChangePassword sets a new password after checking the current one, and ends every other session
// of the user.
func (s *Service) ChangePassword(ctx context.Context, token, current, next string, ip netip.Addr) error {
	sess, err := s.Load(ctx, token)
	if err != nil {
		return err
	}
	u, err := s.q.GetUser(ctx, queries.GetUserParams{AccountID: sess.AccountID, ID: sess.UserID})
	if err != nil {
		return err
	}
	if ok, err := passwordMatches(current, deref(u.PasswordHash)); err != nil || !ok {
		return invalid.Field("current_password", "the current password is not right")
	}
	if err := CheckPassword(next, u.Email); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.SetPassword(ctx, queries.SetPasswordParams{PasswordHash: new(hashPassword(next)), AccountID: sess.AccountID, ID: sess.UserID}); err != nil {
			return err
		}
		if err := q.DeleteUserSessions(ctx, queries.DeleteUserSessionsParams{UserID: sess.UserID, Keep: hash(token)}); err != nil {
			return err
		}
		return audit.Record(ctx, q, sess.Actor(ip), "user.change_password", "user", sess.UserID, nil, nil)
	})
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.q.DeleteSession(ctx, hash(token))
}

// Users lists the account's users.
func (s *Service) Users(ctx context.Context, account int64) ([]queries.User, error) {
	return s.q.ListUsers(ctx, account)
}

// Sweep deletes expired sessions and forgotten throttles; the scheduler runs it.
func (s *Service) Sweep(ctx context.Context) error {
	if _, err := s.q.DeleteExpiredSessions(ctx); err != nil {
		return err
	}
	_, err := s.q.DeleteOldThrottles(ctx)
	return err
}

func deref(p *string) string {
	if p == nil {
		return decoyHash
	}
	return *p
}

// newToken is 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hash keeps tokens and recovery codes at rest: they are random, so SHA-256 is enough (there is
// nothing to guess from a leaked hash).
func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newRecoveryCode is 10 random base32 characters (50 bits), shown as xxxxx-xxxxx.
func newRecoveryCode() string {
	b := make([]byte, 7)
	_, _ = rand.Read(b)
	c := strings.ToLower(base32.StdEncoding.EncodeToString(b))[:10]
	return c[:5] + "-" + c[5:]
}

// normalRecovery reads a recovery code as people type it: any case, with or without the dash.
func normalRecovery(code string) string {
	c := strings.ToLower(strings.ReplaceAll(code, "-", ""))
	if len(c) != 10 {
		return code
	}
	return c[:5] + "-" + c[5:]
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// RequireMFA makes every user of by's account enrol TOTP at their next sign-in (or lifts that).
func (s *Service) RequireMFA(ctx context.Context, by audit.Actor, on bool) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.SetRequireMFA(ctx, queries.SetRequireMFAParams{RequireMfa: on, ID: by.AccountID}); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "account.require_mfa", "account", by.AccountID, nil, map[string]any{"require_mfa": on})
	})
}

// RequiresMFA tells whether the account requires MFA of every user.
func (s *Service) RequiresMFA(ctx context.Context, account int64) (bool, error) {
	a, err := s.q.GetAccount(ctx, account)
	return a.RequireMfa, err
}

// SetDisplay sets how the console shows by's account: its time zone (an IANA name such as
// Asia/Kolkata) and its locale (a BCP 47 tag such as en-IN).
func (s *Service) SetDisplay(ctx context.Context, by audit.Actor, zone, locale string) error {
	zone, locale = strings.TrimSpace(zone), strings.TrimSpace(locale)
	if _, err := time.LoadLocation(zone); err != nil || zone == "" || strings.EqualFold(zone, "local") {
		return invalid.Field("time_zone", "give a time zone by its IANA name, such as Asia/Kolkata or Europe/Berlin")
	}
	if _, err := language.Parse(locale); err != nil || len(locale) > 35 {
		return invalid.Field("locale", "give a locale such as en-US, en-IN or de-DE")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.SetAccountDisplay(ctx, queries.SetAccountDisplayParams{TimeZone: zone, Locale: locale, ID: by.AccountID}); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "account.display", "account", by.AccountID, nil, map[string]any{"time_zone": zone, "locale": locale})
	})
}
