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

-- The broadcasts whose audience is the segment (a broadcast copies its audience when it expands;
-- a scheduled one still reads the segment).
-- name: SegmentBroadcasts :many
SELECT id, name, status FROM broadcasts
WHERE account_id = @account_id AND audience ->> 'segment_id' = (@segment_id::bigint)::text
ORDER BY id DESC LIMIT 50;
