-- name: CreateUser :one
INSERT INTO users (account_id, email, role, invited_by)
VALUES (@account_id, @email, @role, sqlc.narg(invited_by))
RETURNING *;

-- The sign-in lookup: by email, across accounts by nature (an email belongs to one account).
-- name: GetUserByEmail :one
SELECT u.*, a.allowed_ips, a.require_mfa FROM users u JOIN accounts a ON a.id = u.account_id
WHERE u.email = @email;

-- name: GetUser :one
SELECT * FROM users WHERE account_id = @account_id AND id = @id;

-- name: ListUsers :many
SELECT * FROM users WHERE account_id = @account_id ORDER BY id;

-- name: SetPassword :exec
UPDATE users SET password_hash = @password_hash, password_changed_at = now()
WHERE account_id = @account_id AND id = @id;

-- name: SetTOTPSecret :exec
UPDATE users SET totp_secret_enc = @totp_secret_enc, totp_confirmed_at = NULL, totp_last_step = 0
WHERE account_id = @account_id AND id = @id AND totp_confirmed_at IS NULL;

-- name: ConfirmTOTP :exec
UPDATE users SET totp_confirmed_at = now() WHERE account_id = @account_id AND id = @id;

-- Accepts a code's time step once: a step at or before the last accepted one changes nothing.
-- name: UseTOTPStep :execrows
UPDATE users SET totp_last_step = @step
WHERE account_id = @account_id AND id = @id AND totp_last_step < @step;

-- name: DeleteRecoveryCodes :exec
DELETE FROM recovery_codes WHERE account_id = @account_id AND user_id = @user_id;

-- name: InsertRecoveryCode :exec
INSERT INTO recovery_codes (account_id, user_id, code_hash) VALUES (@account_id, @user_id, @code_hash);

-- name: UseRecoveryCode :execrows
UPDATE recovery_codes SET used_at = now()
WHERE account_id = @account_id AND user_id = @user_id AND code_hash = @code_hash AND used_at IS NULL;

-- name: CreateUserLink :exec
INSERT INTO user_links (token_hash, account_id, user_id, expires_at) VALUES (@token_hash, @account_id, @user_id, @expires_at);

-- A one-time link is spent by the first use that finds it unexpired.
-- name: UseUserLink :one
UPDATE user_links SET used_at = now()
WHERE token_hash = @token_hash AND used_at IS NULL AND expires_at > now()
RETURNING user_id;

-- name: PeekUserLink :one
SELECT u.id, u.account_id, u.email FROM user_links l JOIN users u ON u.id = l.user_id
WHERE l.token_hash = @token_hash AND l.used_at IS NULL AND l.expires_at > now();

-- name: CreateSession :exec
INSERT INTO sessions (token_hash, user_id, account_id, stage, csrf_token, expires_at, ip)
VALUES (@token_hash, @user_id, @account_id, @stage, @csrf_token, @expires_at, sqlc.narg(ip));

-- A session with its user and account, if it is neither expired nor idle past idle_after.
-- name: GetSession :one
SELECT s.token_hash, s.stage, s.csrf_token, s.last_seen_at, s.expires_at,
       u.id AS user_id, u.account_id, u.email, u.role, u.totp_confirmed_at,
       a.allowed_ips, a.require_mfa, a.time_zone, a.locale, a.name AS account_name
FROM sessions s JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = u.account_id
WHERE s.token_hash = @token_hash AND s.expires_at > now() AND s.last_seen_at > @idle_after;

-- Written at most once a minute per session.
-- name: TouchSession :exec
UPDATE sessions SET last_seen_at = now()
WHERE token_hash = @token_hash AND last_seen_at < now() - interval '1 minute';

-- name: DeleteSession :exec
DELETE FROM sessions WHERE token_hash = @token_hash;

-- Ends every session of a user but one (the one that changed the password, if any).
-- name: DeleteUserSessions :exec
DELETE FROM sessions WHERE user_id = @user_id AND token_hash <> @keep;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions WHERE expires_at < now();

-- name: GetThrottle :one
SELECT locked_until FROM signin_throttle WHERE key = @key;

-- Counts a failure: from the free-th on, the key waits 2^(failures-free) seconds, at most 15
-- minutes, before its next attempt is even checked.
-- name: FailThrottle :one
INSERT INTO signin_throttle AS t (key, failures, locked_until, updated_at) VALUES (@key, 1, now(), now())
ON CONFLICT (key) DO UPDATE SET failures = t.failures + 1, updated_at = now(),
    locked_until = now() + least(interval '15 minutes',
        CASE WHEN t.failures + 1 >= @free::int THEN interval '1 second' * power(2, t.failures + 1 - @free::int)
             ELSE interval '0' END)
RETURNING failures, locked_until;

-- Forgets keys that have not failed for a day.
-- name: DeleteOldThrottles :execrows
DELETE FROM signin_throttle WHERE updated_at < now() - interval '1 day';

-- name: ClearThrottle :exec
DELETE FROM signin_throttle WHERE key = @key;

-- name: SealedTOTPSecrets :many
SELECT id, totp_secret_enc FROM users WHERE totp_secret_enc IS NOT NULL ORDER BY id;

-- name: ResealTOTP :execrows
UPDATE users SET totp_secret_enc = @totp_secret_enc WHERE id = @id AND totp_secret_enc = @old_totp_secret_enc;

-- name: SetRequireMFA :exec
UPDATE accounts SET require_mfa = @require_mfa WHERE id = @id;

-- name: SetAccountDisplay :exec
UPDATE accounts SET time_zone = @time_zone, locale = @locale WHERE id = @id;

-- name: LockUser :one
SELECT * FROM users WHERE account_id = @account_id AND id = @id FOR UPDATE;

-- name: SetUserRole :exec
UPDATE users SET role = @role WHERE account_id = @account_id AND id = @id;

-- Removes a user: their sessions, links and recovery codes go with them; audit entries keep
-- their id and email.
-- name: DeleteUser :exec
DELETE FROM users WHERE account_id = @account_id AND id = @id;

-- name: ResetTOTP :exec
UPDATE users SET totp_secret_enc = NULL, totp_confirmed_at = NULL, totp_last_step = 0
WHERE account_id = @account_id AND id = @id;

-- name: CountOwners :one
SELECT count(*) FROM users WHERE account_id = @account_id AND role = 'owner';
