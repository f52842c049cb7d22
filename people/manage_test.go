package people

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// An owner changes another person's role, resets their MFA and removes them; each is audited.
// Nobody does these to themselves, the last owner stays one, and another account's user is not
// found.
func TestOwnerManagesPeople(t *testing.T) {
	t.Parallel()
	s, account := setup(t)
	ctx := context.Background()
	ana := invited(t, s, account, "ana@example.com", "owner", "plum tree by the harbour")
	bo := invited(t, s, account, "bo@example.com", "marketer", "plum tree by the harbour")
	owner := audit.Actor{AccountID: account, UserID: ana, Name: "ana@example.com", IP: home}
	wantCode := func(err error, code string) {
		t.Helper()
		if e, ok := invalid.As(err); !ok || e.Code != code {
			t.Fatalf("want %s, got %v", code, err)
		}
	}

	wantCode(s.ChangeRole(ctx, owner, ana, "analyst"), invalid.CodeConflict)
	wantCode(s.Remove(ctx, owner, ana), invalid.CodeConflict)
	wantCode(s.ChangeRole(ctx, owner, bo, "superuser"), invalid.Code)
	other, err := queries.New(s.db).CreateAccount(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	stranger := invited(t, s, other.ID, "cy@example.com", "marketer", "plum tree by the harbour")
	wantCode(s.ChangeRole(ctx, owner, stranger, "owner"), invalid.CodeNotFound)
	wantCode(s.Remove(ctx, owner, stranger), invalid.CodeNotFound)

	// Bo becomes an owner; now Bo may demote Ana, and then Ana is no longer an owner.
	if err := s.ChangeRole(ctx, owner, bo, "owner"); err != nil {
		t.Fatal(err)
	}
	boActor := audit.Actor{AccountID: account, UserID: bo, Name: "bo@example.com"}
	if err := s.ChangeRole(ctx, boActor, ana, "admin"); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home); err != nil || sess.Role != "admin" {
		t.Fatalf("ana signs in as %q: %v", sess.Role, err)
	}
	// Bo is now the last owner, and stays one.
	wantCode(s.ChangeRole(ctx, audit.Actor{AccountID: account, UserID: ana}, bo, "admin"), invalid.CodeConflict)

	// Ana sets up MFA; Bo resets it: her sessions end and her next sign-in needs no code.
	sess, _ := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	enrol, err := s.StartEnrol(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(enrol.Secret, time.Now())
	if _, _, err := s.ConfirmEnrol(ctx, sess.Token, code, home); err != nil {
		t.Fatal(err)
	}
	pending, _ := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home)
	if pending.Stage != StageMFA {
		t.Fatalf("stage %q with MFA on", pending.Stage)
	}
	if err := s.ResetMFA(ctx, boActor, ana); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, pending.Token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("a session survived the reset: %v", err)
	}
	wantCode(s.ResetMFA(ctx, boActor, ana), invalid.CodeConflict) // nothing left to reset
	if next, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home); err != nil || next.Stage != StageActive {
		t.Fatalf("after the reset: stage %q, %v", next.Stage, err)
	}

	// Bo removes Ana: she cannot sign in; her sessions are gone with her.
	if err := s.Remove(ctx, boActor, ana); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, "ana@example.com", "plum tree by the harbour", home); !errors.Is(err, ErrCredentials) {
		t.Fatalf("a removed user signs in: %v", err)
	}
	var actions []string
	rows, _ := s.db.Query(ctx, `SELECT action FROM audit_log WHERE account_id = $1 AND target_type = 'user' AND action IN ('user.role', 'user.reset_mfa', 'user.remove') ORDER BY id`, account)
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	want := []string{"user.role", "user.role", "user.reset_mfa", "user.remove"}
	if len(actions) != len(want) {
		t.Fatalf("audited %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audited %v, want %v", actions, want)
		}
	}
}
