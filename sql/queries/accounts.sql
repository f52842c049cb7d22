-- name: CreateAccount :one
INSERT INTO accounts (name) VALUES (@name) RETURNING *;

-- name: CreateAPIKey :one
INSERT INTO api_keys (account_id, name, prefix, secret_hash, role, expires_at)
VALUES (@account_id, @name, @prefix, @secret_hash, @role, sqlc.narg(expires_at))
RETURNING id, account_id, name, prefix, role, expires_at, created_at;

-- The authentication lookup: by the key's public prefix, across accounts by nature.
-- name: GetAPIKeyByPrefix :one
SELECT k.id, k.account_id, k.name, k.secret_hash, k.role, k.expires_at, k.revoked_at, a.allowed_ips
FROM api_keys k JOIN accounts a ON a.id = k.account_id
WHERE k.prefix = @prefix;

-- Written at most once a minute per key, so authentication does not cost a write per request.
-- name: TouchAPIKey :exec
UPDATE api_keys SET last_used_at = now()
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: InsertAudit :exec
INSERT INTO audit_log (account_id, actor_key_id, actor_user_id, actor_name, ip, action, target_type, target_id, before, after)
VALUES (@account_id, sqlc.narg(actor_key_id), sqlc.narg(actor_user_id), @actor_name, sqlc.narg(ip), @action, @target_type,
        sqlc.narg(target_id), sqlc.narg(before), sqlc.narg(after));

-- The account's audit log, newest first, before a cursor (an id; 0 starts at the newest).
-- name: ListAudit :many
SELECT * FROM audit_log
WHERE account_id = @account_id AND (@before::bigint = 0 OR id < @before::bigint)
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action)::text)
  AND (sqlc.narg(target_type)::text IS NULL OR target_type = sqlc.narg(target_type)::text)
  AND (sqlc.narg(target_id)::bigint IS NULL OR target_id = sqlc.narg(target_id)::bigint)
  AND (sqlc.narg(key_id)::bigint IS NULL OR actor_key_id = sqlc.narg(key_id)::bigint)
  AND (sqlc.narg(user_id)::bigint IS NULL OR actor_user_id = sqlc.narg(user_id)::bigint)
  AND (sqlc.narg(since)::timestamptz IS NULL OR at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(until)::timestamptz IS NULL OR at < sqlc.narg(until)::timestamptz)
ORDER BY id DESC LIMIT @lim;

-- name: ListAPIKeys :many
SELECT id, name, prefix, role, expires_at, last_used_at, revoked_at, created_at FROM api_keys
WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- name: GetAPIKey :one
SELECT id, name, prefix, role, expires_at, last_used_at, revoked_at, created_at FROM api_keys
WHERE account_id = @account_id AND id = @id;

-- name: RevokeAPIKey :one
UPDATE api_keys SET revoked_at = now()
WHERE account_id = @account_id AND id = @id AND revoked_at IS NULL
RETURNING id, name, prefix, role, expires_at, last_used_at, revoked_at, created_at;

-- Serialises changes to an account's owner keys: two owners revoking each other at once must not
-- both succeed.
-- name: LockAccount :exec
SELECT id FROM accounts WHERE id = @id FOR UPDATE;

-- Owner keys that still work, so the last one cannot be revoked.
-- name: CountActiveOwnerKeys :one
SELECT count(*) FROM api_keys
WHERE account_id = @account_id AND role = 'owner' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now());

-- name: SetAllowedIPs :one
UPDATE accounts SET allowed_ips = @allowed_ips WHERE id = @id RETURNING allowed_ips;

-- name: GetAccount :one
SELECT * FROM accounts WHERE id = @id;

-- name: UpdateAccountSettings :one
UPDATE accounts SET settings = @settings WHERE id = @id RETURNING *;
