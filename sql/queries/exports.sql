-- name: SetExportsNeedApproval :one
UPDATE accounts SET exports_need_approval = @need WHERE id = @id RETURNING exports_need_approval;

-- name: InsertExportRequest :one
INSERT INTO export_requests (account_id, kind, params, requested_by_key, requested_by_user, requester_name,
    status, decided_by_name, decided_at, expires_at)
VALUES (@account_id, @kind, @params, sqlc.narg(requested_by_key), sqlc.narg(requested_by_user), @requester_name,
    @status, sqlc.narg(decided_by_name), CASE WHEN @status::text = 'pending' THEN NULL ELSE now() END,
    CASE WHEN @status::text = 'pending' THEN NULL ELSE now() + make_interval(secs => @lifetime_seconds::int) END)
RETURNING *;

-- name: GetExportRequest :one
SELECT * FROM export_requests WHERE account_id = @account_id AND id = @id;

-- The account's requests, newest first: every one, or (mine) those of one key or person.
-- name: ListExportRequests :many
SELECT * FROM export_requests
WHERE account_id = @account_id AND id < @before
  AND (NOT @mine::boolean OR requested_by_key = sqlc.narg(key_id) OR requested_by_user = sqlc.narg(user_id))
ORDER BY id DESC LIMIT @lim;

-- A pending request decided: approved (its download then works for lifetime_seconds) or rejected.
-- name: DecideExportRequest :one
UPDATE export_requests SET status = @status, decided_by_name = @decided_by_name, decided_at = now(),
    expires_at = CASE WHEN @status::text = 'approved' THEN now() + make_interval(secs => @lifetime_seconds::int) END
WHERE account_id = @account_id AND id = @id AND status = 'pending'
RETURNING *;

-- The one download of an approved request, by its requester, before it expires.
-- name: TakeExportDownload :one
UPDATE export_requests SET status = 'downloaded', downloaded_at = now()
WHERE account_id = @account_id AND id = @id AND status = 'approved' AND expires_at > now()
  AND (requested_by_key = sqlc.narg(key_id) OR requested_by_user = sqlc.narg(user_id))
RETURNING *;
