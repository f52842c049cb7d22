-- Broadcast messages that failed at least settle_seconds ago (a delivered status may still follow
-- a failed one, from another of the user's devices) and that the retry job has not decided on
-- yet, with what the decision needs; locked until it is written. Across accounts by nature (a
-- scheduler job).
-- name: UndecidedFailures :many
SELECT m.id, m.retries, m.error_code, COALESCE(m.failed_at, now())::timestamptz AS failed_at,
       COALESCE(m.sending_at, m.failed_at, now())::timestamptz AS last_at,
       COALESCE((SELECT a.at FROM message_attempts a WHERE a.message_id = m.id AND a.attempt = 0), m.sending_at, m.failed_at, now())::timestamptz AS first_at,
       b.retry_policy, b.status AS broadcast_status, b.expires_at, t.category, (c.id IS NOT NULL)::boolean AS contact_exists,
       COALESCE(c.opted_in, false)::boolean AS opted_in
FROM messages m
JOIN broadcasts b ON b.id = m.broadcast_id
JOIN templates t ON t.id = m.template_id
LEFT JOIN contacts c ON c.id = m.contact_id
WHERE m.status = 'failed' AND m.broadcast_id IS NOT NULL AND NOT m.retry_done
  AND COALESCE(m.failed_at, '-infinity') < now() - make_interval(secs => @settle_seconds::float8)
ORDER BY m.id
LIMIT @lim
FOR UPDATE OF m SKIP LOCKED;

-- Failures that stay failed.
-- name: EndRetries :exec
UPDATE messages SET retry_done = true WHERE id = ANY(@ids::bigint[]) AND status = 'failed';

-- Sends failed messages again at the given times (in their broadcast's send window): each one's
-- failed attempt is kept in message_attempts and the row starts its next attempt, pending until
-- due. A completed broadcast runs again (a paused one sends them when resumed).
-- name: ArmRetries :exec
WITH r AS (
    SELECT unnest(@ids::bigint[]) AS id, unnest(@due::timestamptz[]) AS due
), kept AS (
    INSERT INTO message_attempts (message_id, attempt, account_id, broadcast_id, at, wamid, error_code, reason, failed_at)
    SELECT m.id, m.retries, m.account_id, m.broadcast_id, COALESCE(m.sending_at, m.failed_at, now()), m.wamid, m.error_code, m.reason, m.failed_at
    FROM messages m JOIN r ON r.id = m.id
    WHERE m.status = 'failed'
    ON CONFLICT DO NOTHING
), reopened AS (
    UPDATE broadcasts b SET status = 'running', finished_at = NULL, updated_at = now()
    WHERE b.status = 'completed' AND b.id IN (SELECT m.broadcast_id FROM messages m JOIN r ON r.id = m.id)
)
UPDATE messages m SET status = 'pending', reason = 'retry', retries = m.retries + 1, queued_at = NULL,
    due_at = CASE WHEN b.send_window IS NULL THEN r.due ELSE next_send_window(r.due, c.time_zone, b.send_window) END,
    wamid = NULL, error_code = NULL, failed_at = NULL, sent_at = NULL, delivered_at = NULL, read_at = NULL,
    billable = NULL, pricing_category = NULL, delivery_path = NULL
FROM r, broadcasts b, contacts c
WHERE m.id = r.id AND b.id = m.broadcast_id AND c.id = m.contact_id AND m.status = 'failed';

-- A broadcast's retries: per attempt (1 the first retry), how many were made and when the first
-- and the last of them went. The earlier attempts are in message_attempts; a message's current
-- attempt counts once it was claimed, unless the claim skipped it (an opt-out since, say).
-- name: RetryLog :many
SELECT attempt::int AS attempt, count(*) AS n, min(at)::timestamptz AS first_at, max(at)::timestamptz AS last_at
FROM (
    SELECT a.attempt, a.at FROM message_attempts a WHERE a.account_id = @account_id AND a.broadcast_id = @broadcast_id AND a.attempt > 0
    UNION ALL
    SELECT m.retries, m.sending_at FROM messages m
    WHERE m.account_id = @account_id AND m.broadcast_id = @broadcast_id AND m.retries > 0
      AND m.status NOT IN ('pending', 'queued', 'skipped') AND m.sending_at IS NOT NULL
) x
GROUP BY attempt ORDER BY attempt;

-- When a broadcast's next retry is due (no row: none waits).
-- name: NextRetry :many
SELECT due_at FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND status = 'pending' AND reason = 'retry'
ORDER BY due_at LIMIT 1;

-- How many marketing messages a contact was sent in the last days days: a retry of a marketing
-- message is held to the account's frequency cap as the first send was at expansion.
-- name: MarketingSentSince :one
SELECT count(*) FROM messages m JOIN templates t ON t.id = m.template_id
WHERE m.account_id = @account_id AND m.contact_id = @contact_id AND t.category = 'marketing'
  AND m.sent_at > now() - make_interval(days => @days::int);
