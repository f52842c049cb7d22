-- name: CreateSegment :one
INSERT INTO segments (account_id, name, rules) VALUES (@account_id, @name, @rules) RETURNING *;

-- name: GetSegment :one
SELECT * FROM segments WHERE account_id = @account_id AND id = @id;

-- name: ListSegments :many
SELECT * FROM segments WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateSegment :one
UPDATE segments SET name = @name, rules = @rules, updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: DeleteSegment :execrows
DELETE FROM segments WHERE account_id = @account_id AND id = @id;
