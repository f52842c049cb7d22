package people

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
)

// What an owner does to the other people of the account. Nobody changes, removes or resets
// themselves here (their own password and MFA are on their security page), and the account always
// keeps an owner who can sign in to do the same.

// ChangeRole gives a user of by's account another role.
func (s *Service) ChangeRole(ctx context.Context, by audit.Actor, userID int64, roleName string) error {
	if !slices.Contains(role.People, roleName) {
		return invalid.Field("role", "role is one of %s", strings.Join(role.People, ", "))
	}
	return s.manage(ctx, by, userID, "user.role", func(q *queries.Queries, u queries.User) (any, error) {
		if u.Role == roleName {
			return nil, errUnchanged
		}
		if err := s.keepAnOwner(ctx, q, u); err != nil {
			return nil, err
		}
		return map[string]any{"email": u.Email, "role": roleName},
			q.SetUserRole(ctx, queries.SetUserRoleParams{Role: roleName, AccountID: u.AccountID, ID: u.ID})
	})
}

// Remove deletes a user of by's account; their sessions end with them.
func (s *Service) Remove(ctx context.Context, by audit.Actor, userID int64) error {
	return s.manage(ctx, by, userID, "user.remove", func(q *queries.Queries, u queries.User) (any, error) {
		if err := s.keepAnOwner(ctx, q, u); err != nil {
			return nil, err
		}
		return nil, q.DeleteUser(ctx, queries.DeleteUserParams{AccountID: u.AccountID, ID: u.ID})
	})
}

// ResetMFA turns off a user's two-step sign-in (a lost phone, and the recovery codes with it):
// their recovery codes go, their sessions end, and they set it up again at their next sign-in
// where the account requires it.
func (s *Service) ResetMFA(ctx context.Context, by audit.Actor, userID int64) error {
	return s.manage(ctx, by, userID, "user.reset_mfa", func(q *queries.Queries, u queries.User) (any, error) {
		if u.TotpConfirmedAt == nil && u.TotpSecretEnc == nil {
			return nil, invalid.Conflict("%s has no two-step sign-in to reset", u.Email)
		}
		for _, step := range []func() error{
			func() error { return q.ResetTOTP(ctx, queries.ResetTOTPParams{AccountID: u.AccountID, ID: u.ID}) },
			func() error {
				return q.DeleteRecoveryCodes(ctx, queries.DeleteRecoveryCodesParams{AccountID: u.AccountID, UserID: u.ID})
			},
			func() error {
				return q.DeleteUserSessions(ctx, queries.DeleteUserSessionsParams{UserID: u.ID, Keep: []byte{}})
			},
		} {
			if err := step(); err != nil {
				return nil, err
			}
		}
		return map[string]any{"email": u.Email, "mfa": false}, nil
	})
}

// errUnchanged is a change that finds nothing to change: no audit entry.
var errUnchanged = errors.New("unchanged")

// manage locks the account and the user, runs change (which answers the audit entry's after) and
// records it.
func (s *Service) manage(ctx context.Context, by audit.Actor, userID int64, action string,
	change func(*queries.Queries, queries.User) (any, error)) error {
	if userID == by.UserID {
		return invalid.Conflict("you cannot do this to yourself; ask another owner")
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.LockAccount(ctx, by.AccountID); err != nil {
			return err
		}
		u, err := q.LockUser(ctx, queries.LockUserParams{AccountID: by.AccountID, ID: userID})
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid.NotFound("user")
		}
		if err != nil {
			return err
		}
		after, err := change(q, u)
		if errors.Is(err, errUnchanged) {
			return nil
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, q, by, action, "user", u.ID, map[string]any{"email": u.Email, "role": u.Role}, after)
	})
}

// keepAnOwner refuses to take the owner role from the account's last owner.
func (s *Service) keepAnOwner(ctx context.Context, q *queries.Queries, u queries.User) error {
	if role.Names[u.Role] != role.Owner {
		return nil
	}
	n, err := q.CountOwners(ctx, u.AccountID)
	if err == nil && n <= 1 {
		err = invalid.Conflict("%s is the account's last owner; make someone else owner first", u.Email)
	}
	return err
}
