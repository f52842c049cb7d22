-- Worker heartbeats (worker.Heart) and the settling of sends whose outcome is unknown (the
-- scheduler's settle job).

-- name: RegisterWorker :one
INSERT INTO workers (name, beat_at) VALUES (@name, @beat_at) RETURNING id;

-- A beat: the worker is alive at beat_at (its clock) and lists its sends waiting for a slot. No
-- row: the worker was fenced (taken for dead), and must not write any send it listed. beat_at never
-- goes back (should the worker's clock), so it is never below a beat the worker saw recorded.
-- name: BeatWorker :execrows
UPDATE workers SET beat_at = GREATEST(beat_at, @beat_at), seen_at = now(), pending_ids = @pending_ids::bigint[],
    pending_slots = @pending_slots::timestamptz[]
WHERE id = @id AND fenced_at IS NULL;

-- A worker that stopped (its handlers finished or handed their messages back) retires its row.
-- name: RetireWorker :exec
UPDATE workers SET fenced_at = now(), pending_ids = '{}', pending_slots = '{}' WHERE id = @id;

-- Fences the workers not seen for dead_after: from now on none of their beats is recorded, so
-- beat_at is their last. Answers each with the sends it listed as waiting.
-- name: FenceDeadWorkers :many
UPDATE workers SET fenced_at = now()
WHERE fenced_at IS NULL AND seen_at < now() - make_interval(secs => @dead_after_seconds::float8)
RETURNING id, beat_at, pending_ids, pending_slots;

-- The listed sends of a fenced worker whose slot was later than its last beat plus the fence
-- margin (after) were never written: they go back to the queue, to be sent once.
-- name: RequeueUnwritten :many
UPDATE messages m SET status = 'queued', queued_at = now(), claimed_by = NULL, settled = 'requeued', settled_at = now()
FROM (SELECT unnest(@ids::bigint[]) AS id, unnest(@slots::timestamptz[]) AS slot) AS p
WHERE m.id = p.id AND p.slot > @after::timestamptz AND m.status = 'sending' AND m.claimed_by = @worker_id::bigint
RETURNING m.id, m.attempts;

-- What else a fenced worker had claimed may have reached Meta: unknown, until evidence settles it.
-- name: UnknownOfWorker :execrows
UPDATE messages SET status = 'unknown', reason = 'worker_lost'
WHERE status = 'sending' AND claimed_by = @worker_id::bigint;

-- Workers retired or fenced a day ago with nothing left in sending are forgotten.
-- name: ForgetWorkers :exec
DELETE FROM workers w
WHERE w.fenced_at < now() - interval '1 day'
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.status = 'sending' AND m.claimed_by = w.id);

-- Unknown sends older than the grace period whose number had a later send delivered within the
-- grace period (webhooks flow, and Meta reports a send it took within seconds): not sent. Each
-- unknown send's look is bounded: the account's deliveries of its grace period (by the
-- delivered_at index), and only during a day after the grace (then nothing is concluded any
-- more). Those of accounts that opted in (resend_not_sent) go back to the queue at once, their
-- broadcast running again if it had completed (a paused one sends them when resumed, a cancelled
-- one never); the others become not_sent, which "retry the failed" sends again. Without such
-- evidence nothing is concluded.
-- name: SettleAfterGrace :many
WITH x AS (
    SELECT m.id, m.broadcast_id, COALESCE((a.settings ->> 'resend_not_sent')::boolean, false)
               AND COALESCE(b.status IN ('running', 'paused', 'completed'), true) AS resend
    FROM messages m JOIN accounts a ON a.id = m.account_id LEFT JOIN broadcasts b ON b.id = m.broadcast_id
    WHERE m.status = 'unknown' AND m.sending_at < now() - make_interval(secs => @grace_seconds::float8)
      AND m.sending_at > now() - make_interval(secs => @grace_seconds::float8) - interval '1 day'
      AND EXISTS (SELECT 1 FROM messages y
                  WHERE y.account_id = m.account_id AND y.channel_id = m.channel_id AND y.sent_at > m.sending_at
                    AND y.delivered_at > m.sending_at
                    AND y.delivered_at < m.sending_at + make_interval(secs => @grace_seconds::float8))
    ORDER BY m.id
    LIMIT 1000
    FOR UPDATE OF m SKIP LOCKED
), reopened AS (
    UPDATE broadcasts b SET status = 'running', finished_at = NULL, updated_at = now()
    FROM (SELECT DISTINCT broadcast_id FROM x WHERE resend) r
    WHERE b.id = r.broadcast_id AND b.status = 'completed'
)
UPDATE messages m SET status = CASE WHEN x.resend THEN 'queued' ELSE 'not_sent' END::message_status,
    queued_at = CASE WHEN x.resend THEN now() END, claimed_by = NULL, reason = CASE WHEN x.resend THEN NULL ELSE 'not_sent' END,
    settled = 'grace', settled_at = now()
FROM x WHERE m.id = x.id
RETURNING m.id, m.attempts, x.resend;
