-- name: CreateAccount :one
INSERT INTO accounts (name) VALUES (@name) RETURNING *;

-- name: CreateAPIKey :one
INSERT INTO api_keys (account_id, name, prefix, secret_hash, role, expires_at)
VALUES (@account_id, @name, @prefix, @secret_hash, @role, sqlc.narg(expires_at))
RETURNING id, account_id, name, prefix, role, expires_at, created_at;

-- The authentication lookup: by the key's public prefix, across accounts by nature.
-- name: GetAPIKeyByPrefix :one
SELECT id, account_id, name, secret_hash, role, expires_at, revoked_at
FROM api_keys
WHERE prefix = @prefix;

-- Written at most once a minute per key, so authentication does not cost a write per request.
-- name: TouchAPIKey :exec
UPDATE api_keys SET last_used_at = now()
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: InsertAudit :exec
INSERT INTO audit_log (account_id, actor_key_id, actor_name, ip, action, target_type, target_id, before, after)
VALUES (@account_id, sqlc.narg(actor_key_id), @actor_name, sqlc.narg(ip), @action, @target_type,
        sqlc.narg(target_id), sqlc.narg(before), sqlc.narg(after));

-- name: ListAudit :many
SELECT * FROM audit_log WHERE account_id = @account_id ORDER BY id DESC LIMIT @lim;

-- name: GetAccount :one
SELECT * FROM accounts WHERE id = @id;

-- name: UpdateAccountSettings :one
UPDATE accounts SET settings = @settings WHERE id = @id RETURNING *;
