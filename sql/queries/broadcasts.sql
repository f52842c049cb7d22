-- name: CreateBroadcast :one
INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience, parameters, send_at,
                        local_date, local_time, send_window, rate_cap, expires_at, audience_count, retry_of, retry_policy)
VALUES (@account_id, @channel_id, @template_id, @name, @status, @audience, @parameters, sqlc.narg(send_at),
        sqlc.narg(local_date), sqlc.narg(local_time), sqlc.narg(send_window), sqlc.narg(rate_cap),
        sqlc.narg(expires_at), @audience_count, sqlc.narg(retry_of), sqlc.narg(retry_policy))
RETURNING *;

-- name: GetBroadcast :one
SELECT * FROM broadcasts WHERE account_id = @account_id AND id = @id;

-- name: ListBroadcasts :many
SELECT * FROM broadcasts WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- Moves a broadcast from one of the given states to another; no row when it is in none of them.
-- A pause records its cause; any other move clears it.
-- name: SetBroadcastStatus :one
UPDATE broadcasts SET status = @status::broadcast_status, status_reason = @reason, updated_at = now(),
    pause_cause = CASE WHEN @status::broadcast_status = 'paused' THEN sqlc.narg(pause_cause)::text END,
    finished_at = CASE WHEN @status::broadcast_status IN ('completed', 'cancelled') THEN now() ELSE finished_at END
WHERE account_id = @account_id AND id = @id AND status = ANY(@from_statuses::broadcast_status[])
RETURNING *;

-- name: UpdateScheduledBroadcast :one
UPDATE broadcasts SET status = @status, name = @name, channel_id = @channel_id, template_id = @template_id, audience = @audience,
    parameters = @parameters, send_at = sqlc.narg(send_at), local_date = sqlc.narg(local_date),
    local_time = sqlc.narg(local_time), send_window = sqlc.narg(send_window), rate_cap = sqlc.narg(rate_cap),
    expires_at = sqlc.narg(expires_at), audience_count = @audience_count, retry_policy = sqlc.narg(retry_policy), updated_at = now()
WHERE account_id = @account_id AND id = @id AND status IN ('draft', 'scheduled')
RETURNING *;

-- The scheduler starts broadcasts whose time has come; across accounts by nature.
-- name: StartDueBroadcasts :many
UPDATE broadcasts SET status = 'running', started_at = now(), updated_at = now()
WHERE status = 'scheduled' AND send_at <= now()
RETURNING id, account_id;

-- name: UnexpandedBroadcasts :many
SELECT * FROM broadcasts WHERE status IN ('running', 'paused') AND expanded_at IS NULL ORDER BY id;

-- name: SetExpandCursor :exec
UPDATE broadcasts SET expand_cursor = @expand_cursor WHERE id = @id;

-- name: GetExpandCursor :one
SELECT expand_cursor FROM broadcasts WHERE id = @id AND account_id = @account_id;

-- name: MarkExpanded :exec
UPDATE broadcasts SET expanded_at = now(),
    audience_count = (SELECT count(*) FROM messages WHERE broadcast_id = @id::bigint)
WHERE id = @id::bigint;

-- Channels with a running broadcast or an active sequence, and what the feeder needs of them:
-- their messages in flight (queued or sending) are counted in one pass for all channels.
-- name: FeedableChannels :many
WITH in_flight AS (
    SELECT channel_id, count(*) AS n FROM messages WHERE status IN ('queued', 'sending') GROUP BY channel_id
)
SELECT ch.id, ch.phone_number_id, ch.throughput_mps, ch.quality_rating,
       COALESCE((SELECT min(b.rate_cap) FROM broadcasts b WHERE b.channel_id = ch.id AND b.status = 'running'), 0)::int AS rate_cap,
       COALESCE(f.n, 0)::bigint AS in_flight
FROM channels ch
LEFT JOIN in_flight f ON f.channel_id = ch.id
WHERE ch.status = 'active'
  AND (EXISTS (SELECT 1 FROM broadcasts b WHERE b.channel_id = ch.id AND b.status = 'running')
       OR EXISTS (SELECT 1 FROM sequences s WHERE s.channel_id = ch.id AND s.status = 'active'));

-- Moves up to lim due messages of running broadcasts on a channel to queued, oldest due first
-- (drip steps have QueueDueSteps, which the feeder runs first).
-- name: QueueDue :many
WITH due AS (
    SELECT m.id FROM messages m JOIN broadcasts b ON b.id = m.broadcast_id
    WHERE m.channel_id = @channel_id AND m.status = 'pending' AND m.due_at <= now() AND b.status = 'running'
      AND (b.send_window IS NULL OR in_send_window(now(), (SELECT c.time_zone FROM contacts c WHERE c.id = m.contact_id), b.send_window))
    ORDER BY m.due_at
    LIMIT @lim
    FOR UPDATE OF m SKIP LOCKED
)
UPDATE messages m SET status = 'queued', queued_at = now()
FROM due WHERE m.id = due.id
RETURNING m.id;

-- Moves up to lim due drip steps of active sequences on a channel to queued, oldest first: the
-- feeder serves them before broadcast messages. Steps were put in their send window when written.
-- name: QueueDueSteps :many
WITH due AS (
    SELECT m.id FROM messages m
    JOIN enrollments e ON e.id = m.enrollment_id
    JOIN sequences s ON s.id = e.sequence_id
    WHERE m.channel_id = @channel_id AND m.status = 'pending' AND m.enrollment_id IS NOT NULL AND m.due_at <= now()
      AND e.status IN ('active', 'completed') AND s.status = 'active'
    ORDER BY m.due_at
    LIMIT @lim
    FOR UPDATE OF m SKIP LOCKED
)
UPDATE messages m SET status = 'queued', queued_at = now()
FROM due WHERE m.id = due.id
RETURNING m.id;

-- Pending messages of broadcasts past their expiry are dropped, with the reason.
-- name: ExpirePending :execrows
UPDATE messages m SET status = 'skipped', reason = 'expired'
FROM broadcasts b
WHERE b.id = m.broadcast_id AND m.status = 'pending' AND b.expires_at < now() AND b.status IN ('running', 'paused');

-- name: StuckQueued :many
SELECT id FROM messages WHERE status = 'queued' AND queued_at < now() - make_interval(secs => @older_seconds::int) ORDER BY queued_at LIMIT 10000;

-- A worker that died mid-send leaves its row in sending: the outcome is unknown, never resent.
-- name: MarkStuckSendingUnknown :execrows
UPDATE messages SET status = 'unknown', reason = 'worker_lost'
WHERE status = 'sending' AND sending_at < now() - make_interval(secs => @older_seconds::int);

-- name: CompleteBroadcasts :many
UPDATE broadcasts b SET status = 'completed', finished_at = now(), updated_at = now()
WHERE b.status = 'running' AND b.expanded_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.broadcast_id = b.id AND m.status IN ('pending', 'queued', 'sending'))
RETURNING b.id;

-- The counts behind a broadcast's report.
-- name: BroadcastFunnel :many
SELECT status, COALESCE(reason, '') AS reason, COALESCE(error_code, 0)::int AS error_code, COALESCE(settled::text, '')::text AS settled,
       COALESCE(delivery_path, '')::text AS delivery_path, count(*) AS n, count(replied_at) AS replied, count(sent_at) AS with_sent,
       count(*) FILTER (WHERE retries > 0) AS retried
FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id
GROUP BY 1, 2, 3, 4, 5;

-- name: SentInLastMinute :one
SELECT count(*) FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND sent_at > now() - interval '1 minute';

-- A broadcast's recipients, with the retries their messages' retry policy made (a message
-- pending or queued for a retry has not made it yet, nor one skipped at it, say for an opt-out)
-- and the times of the current and the previous attempt (the last retry is one of them).
-- name: ListRecipients :many
SELECT m.id, m.contact_id, c.phone, c.name, m.status, COALESCE(m.reason, '') AS reason, COALESCE(m.error_code, 0)::int AS error_code,
       m.wamid, m.due_at, m.sent_at, m.delivered_at, m.read_at, m.failed_at, m.replied_at,
       (m.retries - CASE WHEN m.retries > 0 AND m.status IN ('pending', 'queued', 'skipped') THEN 1 ELSE 0 END)::int AS retries_made,
       m.sending_at AS attempt_at, a.at AS previous_attempt_at
FROM messages m JOIN contacts c ON c.id = m.contact_id
LEFT JOIN message_attempts a ON a.message_id = m.id AND a.attempt = m.retries - 1
WHERE m.account_id = @account_id AND m.broadcast_id = @broadcast_id AND m.id > @after
  AND (sqlc.narg(status)::message_status IS NULL OR m.status = sqlc.narg(status)::message_status)
ORDER BY m.id
LIMIT @lim;

-- Contacts whose messages of a broadcast failed with one of the given codes, or were concluded
-- not sent (for "retry failed").
-- name: FailedContacts :many
SELECT contact_id FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id
  AND (status = 'failed' AND error_code = ANY(@codes::int[]) OR status = 'not_sent');

-- A cancelled broadcast drops what it has not sent.
-- name: CancelUnsent :execrows
UPDATE messages SET status = 'skipped', reason = 'cancelled'
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND status IN ('pending', 'queued');

-- name: FailedCodes :many
SELECT DISTINCT error_code::int FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND status = 'failed' AND error_code IS NOT NULL;

-- Running broadcasts with their sends so far, for the failure-rate check. Those waiting for the
-- tier or for a retry are left out: they send nothing until then (when they stop waiting they are
-- counted again), and counting a big one's every message every few seconds for the day or days it
-- waits would cost more than all the rest.
-- name: RunningBroadcastOutcomes :many
SELECT b.id, b.account_id, a.settings,
       count(*) FILTER (WHERE m.status = 'failed')::bigint AS failed,
       count(*) FILTER (WHERE m.status IN ('sent', 'delivered', 'read', 'failed', 'unknown'))::bigint AS attempted,
       count(m.opted_out_at)::bigint AS opted_out
FROM broadcasts b JOIN accounts a ON a.id = b.account_id JOIN messages m ON m.broadcast_id = b.id
WHERE b.status = 'running' AND b.tier_wait_until IS NULL AND b.retry_wait_until IS NULL
GROUP BY b.id, b.account_id, a.settings;

-- Due messages whose send window has closed wait for it to open again.
-- name: Rewindow :execrows
UPDATE messages m SET due_at = next_send_window(now(), c.time_zone, b.send_window)
FROM broadcasts b, contacts c
WHERE b.id = m.broadcast_id AND c.id = m.contact_id AND b.status = 'running' AND b.send_window IS NOT NULL
  AND m.status = 'pending' AND m.due_at <= now() AND NOT in_send_window(now(), c.time_zone, b.send_window);

-- The due time of the oldest message still waiting to be queued; now when none waits.
-- name: OldestDue :one
SELECT COALESCE(min(due_at), now())::timestamptz AS oldest
FROM messages WHERE channel_id = @channel_id AND status = 'pending' AND due_at <= now();

-- When the next message of a broadcast the messaging tier holds is due (null when none is held).
-- name: TierHeldNext :one
SELECT min(due_at)::timestamptz FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND status = 'pending' AND reason = 'tier';

-- A channel's portfolio tier as a new broadcast will find it: the limit (null: unlimited), the
-- unique recipients of the moving 24 h, and when the one after the skip oldest of them reaches
-- 24 h (its slot frees; a day from now when fewer were reached).
-- name: TierOutlook :one
WITH p AS (
    SELECT p.id, p.tier_limit FROM channels ch JOIN portfolios p ON p.id = ch.portfolio_id
    WHERE ch.account_id = @account_id AND ch.id = @channel_id
), r AS (
    SELECT min(m.sent_at) AS first FROM messages m JOIN channels c ON c.id = m.channel_id JOIN p ON p.id = c.portfolio_id
    WHERE m.account_id = @account_id AND m.sent_at > now() - interval '24 hours'
    GROUP BY m.contact_id
)
SELECT p.tier_limit, (SELECT count(*) FROM r)::bigint AS used,
       COALESCE((SELECT first + interval '24 hours' FROM r ORDER BY first OFFSET @skip::bigint LIMIT 1),
                now() + interval '24 hours')::timestamptz AS nth_free
FROM p;

-- The contacts of one of a broadcast's funnel slices (retargeting): read but not replied to, or
-- delivered but not read (its status stays delivered).
-- name: SliceContacts :many
SELECT contact_id FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id
  AND CASE @slice::text
        WHEN 'read_not_replied' THEN status = 'read' AND replied_at IS NULL
        WHEN 'delivered_not_read' THEN status = 'delivered'
      END
ORDER BY contact_id;
