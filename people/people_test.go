package people

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
)

var home = netip.MustParseAddr("192.0.2.10")

func setup(t *testing.T) (*Service, int64) {
	t.Helper()
	pool := testenv.DB(t)
	a, err := queries.New(pool).CreateAccount(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return New(pool, testenv.Secrets(t)), a.ID
}

// invited makes a user with a password and returns the user's id.
func invited(t *testing.T, s *Service, account int64, email, roleName, password string) int64 {
	t.Helper()
	u, token, err := s.Invite(context.Background(), audit.Actor{AccountID: account, Name: "cli"}, email, roleName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPasswordByLink(context.Background(), token, password, home); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"short", "Password1234", "ana@example.com", "ANA@EXAMPLE.COM"} {
		if CheckPassword(bad, "ana@example.com") == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := CheckPassword("plum tree by the harbour", "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	h := hashPassword("plum tree by the harbour")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, _ := passwordMatches("plum tree by the harbour", h); !ok {
		t.Fatal("the password does not match its hash")
	}
	if ok, _ := passwordMatches("plum tree by the harbor", h); ok {
		t.Fatal("another password matches")
	}
}

func TestLinkSetsPasswordOnce(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	_, token, err := s.Invite(ctx, audit.Actor{AccountID: account}, "Ana@Example.com", "owner")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPasswordByLink(ctx, token, "short", home); err == nil {
		t.Fatal("a short password was accepted")
	}
	sess, err := s.SetPasswordByLink(ctx, token, "plum tree by the harbour", home)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Stage != StageActive || sess.Email != "ana@example.com" || sess.Token == "" {
		t.Fatalf("session %+v", sess)
	}
	if _, err := s.SetPasswordByLink(ctx, token, "another long password", home); !errors.Is(err, ErrLink) {
		t.Fatalf("the link worked twice: %v", err)
	}
	if _, _, err := s.Invite(ctx, audit.Actor{AccountID: account}, "ana@example.com", "analyst"); err == nil {
		t.Fatal("a second user with the same email")
	}
	if _, _, err := s.Invite(ctx, audit.Actor{AccountID: account}, "bo@example.com", "integration"); err == nil {
		t.Fatal("a user with a key-only role")
	}
}

func TestSignInBacksOff(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	invited(t, s, account, "ana@example.com", "marketer", "plum tree by the harbour")
	for i := range freeUserFailures {
		if _, err := s.SignIn(ctx, "ana@example.com", "wrong password!", home); !errors.Is(err, ErrCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Now even the right password is not checked until the wait is over.
	var th *Throttled
	if _, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home); !errors.As(err, &th) {
		t.Fatalf("after %d failures: %v", freeUserFailures, err)
	}
	if _, err := s.SignIn(ctx, "nobody@example.com", "plum tree by the harbour", home); !errors.Is(err, ErrCredentials) {
		t.Fatalf("unknown email: %v", err)
	}
	var failed int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE account_id = $1 AND action = 'user.sign_in_failed'`, account).Scan(&failed); err != nil || failed != freeUserFailures {
		t.Fatalf("%d failures audited (%v)", failed, err)
	}
}

func TestMFA(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	invited(t, s, account, "ana@example.com", "owner", "plum tree by the harbour")
	sess, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	if err != nil {
		t.Fatal(err)
	}
	enrol, err := s.StartEnrol(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ConfirmEnrol(ctx, sess.Token, "000000", home); err == nil {
		t.Fatal("a wrong code turned MFA on")
	}
	code, _ := totp.GenerateCode(enrol.Secret, time.Now())
	recovery, _, err := s.ConfirmEnrol(ctx, sess.Token, code, home)
	if err != nil || len(recovery) != 10 {
		t.Fatalf("%d recovery codes, %v", len(recovery), err)
	}

	// The next sign-in waits for a code; the code just used does not work twice.
	pending, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	if err != nil || pending.Stage != StageMFA {
		t.Fatalf("stage %q, %v", pending.Stage, err)
	}
	if _, err := s.VerifyMFA(ctx, pending.Token, code, home); !errors.Is(err, ErrCode) {
		t.Fatalf("a used code: %v", err)
	}
	active, err := s.VerifyMFA(ctx, pending.Token, strings.ToUpper(recovery[0]), home)
	if err != nil || active.Stage != StageActive || active.Token == pending.Token {
		t.Fatalf("recovery code: %+v %v", active, err)
	}
	if _, err := s.Load(ctx, pending.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("the pre-MFA token still works after sign-in")
	}
	again, _ := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	if _, err := s.VerifyMFA(ctx, again.Token, recovery[0], home); !errors.Is(err, ErrCode) {
		t.Fatalf("a recovery code worked twice: %v", err)
	}
}

func TestRequiredMFAMustBeEnrolled(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	invited(t, s, account, "bo@example.com", "analyst", "plum tree by the harbour")
	if _, err := s.db.Exec(ctx, `UPDATE accounts SET require_mfa = true WHERE id = $1`, account); err != nil {
		t.Fatal(err)
	}
	sess, err := s.SignIn(ctx, "bo@example.com", "plum tree by the harbour", home)
	if err != nil || sess.Stage != StageEnrol {
		t.Fatalf("stage %q, %v", sess.Stage, err)
	}
	enrol, err := s.StartEnrol(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(enrol.Secret, time.Now())
	_, active, err := s.ConfirmEnrol(ctx, sess.Token, code, home)
	if err != nil || active.Stage != StageActive || active.Token == sess.Token {
		t.Fatalf("%+v %v", active, err)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	invited(t, s, account, "ana@example.com", "owner", "plum tree by the harbour")
	a, _ := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	b, _ := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	err := s.ChangePassword(ctx, a.Token, "wrong", "a brand new passphrase", home)
	if e, ok := invalid.As(err); !ok || e.Field != "current_password" {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := s.ChangePassword(ctx, a.Token, "plum tree by the harbour", "a brand new passphrase", home); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, a.Token); err != nil {
		t.Fatalf("the session that changed it ended: %v", err)
	}
	if _, err := s.Load(ctx, b.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("another session survived the change: %v", err)
	}
	if err := s.SignOut(ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, a.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("signed out, still signed in")
	}
}

func TestAllowedAddresses(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	invited(t, s, account, "ana@example.com", "owner", "plum tree by the harbour")
	if _, err := s.db.Exec(ctx, `UPDATE accounts SET allowed_ips = '{198.51.100.0/24}' WHERE id = $1`, account); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home); !errors.Is(err, ErrAddress) {
		t.Fatalf("from outside the list: %v", err)
	}
	sess, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", netip.MustParseAddr("198.51.100.7"))
	if err != nil || !sess.Allows(netip.MustParseAddr("198.51.100.8")) || sess.Allows(home) {
		t.Fatalf("%v", err)
	}
}
