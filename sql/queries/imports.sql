-- name: CreateImport :one
INSERT INTO imports (account_id, file_name, created, updated, rejected, errors, stopped, user_id)
VALUES (@account_id, @file_name, @created, @updated, @rejected, @errors, @stopped, sqlc.narg(user_id))
RETURNING id;

-- name: GetImport :one
SELECT * FROM imports WHERE account_id = @account_id AND id = @id;

-- name: ListImports :many
SELECT id, file_name, created, updated, rejected, stopped, created_at FROM imports
WHERE account_id = @account_id ORDER BY id DESC LIMIT @lim;
