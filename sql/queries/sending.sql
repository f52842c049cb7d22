-- Claims queued messages for sending and reads everything their sends need, in one statement for
-- all the send tasks that arrived together. A message without a row is not queued (another worker
-- has it, or it is done) or its campaign does not let it go: message_may_send's rule, spelled out
-- as joins because Postgres never inlines a SQL function holding a subquery (a call per row cost
-- 7 µs on an idle machine and 38 µs under load, most of the claim's time).
-- The rows are locked in id order, as webhooks lock them, and the conditions read the locked rows
-- (their latest versions) rather than m: with a condition on m.status the planner, whose statistics
-- of this fast-changing table said "no queued rows", scanned every queued message of the in-flight
-- index for each claim. claimed_at, the worker's clock, marks the claim: see UnclaimMessages. Every
-- later move of the row by the worker names it too, so a worker the settle job fenced (it stalled
-- and was taken for dead) cannot move a row another worker has claimed since.
-- name: ClaimMessages :many
WITH target AS (
    SELECT id, status, broadcast_id, enrollment_id, contact_id FROM messages
    WHERE id = ANY(@ids::bigint[]) ORDER BY id FOR UPDATE
), claimed AS (
    UPDATE messages m SET status = 'sending', sending_at = @claimed_at::timestamptz, claimed_by = @worker_id::bigint,
        attempts = m.attempts + 1
    FROM target
    LEFT JOIN broadcasts gb ON gb.id = target.broadcast_id
    LEFT JOIN enrollments ge ON ge.id = target.enrollment_id
    LEFT JOIN sequences gs ON gs.id = ge.sequence_id
    WHERE m.id = target.id AND target.status = 'queued'
      AND (gb.status = 'running' OR (ge.status IN ('active', 'completed') AND gs.status = 'active'))
      AND EXISTS (SELECT 1 FROM contacts c WHERE c.id = target.contact_id)
    RETURNING m.id, m.account_id, m.broadcast_id, m.enrollment_id, m.contact_id, m.channel_id, m.template_id, m.due_at, m.context,
        m.sending_at, m.retries
)
SELECT m.id, m.sending_at::timestamptz AS claimed_at, m.retries, m.account_id, m.broadcast_id, e.sequence_id, m.contact_id, m.due_at, c.phone, c.name, c.email, c.country, c.attributes,
       c.opted_in, COALESCE(c.last_inbound_at > now() - interval '24 hours', false)::boolean AS in_service_window,
       ch.id AS channel_id, ch.phone_number_id, ch.access_token_enc, ch.throughput_mps, ch.quality_rating,
       ch.status AS channel_status, ch.marketing_messages, p.id AS portfolio_id, p.tier_limit,
       t.id AS template_id, t.name AS template_name, t.language, t.category, t.status AS template_status, t.components,
       t.parameters AS template_parameters,
       COALESCE(b.parameters, m.context -> 'parameters', '{}')::jsonb AS parameters,
       COALESCE(m.context -> 'event', '{}')::jsonb AS event, b.rate_cap,
       a.settings AS account_settings
FROM claimed m
JOIN contacts c ON c.id = m.contact_id
JOIN channels ch ON ch.id = m.channel_id
JOIN portfolios p ON p.id = ch.portfolio_id
JOIN templates t ON t.id = m.template_id
JOIN accounts a ON a.id = m.account_id
LEFT JOIN broadcasts b ON b.id = m.broadcast_id
LEFT JOIN enrollments e ON e.id = m.enrollment_id;

-- A claim whose answer was lost (the connection dropped mid-statement) may still have committed:
-- its messages, if in sending with that claim's mark, go back to the queue. Nobody else can have
-- claimed them since, and nobody sent them (the worker never saw them claimed).
-- name: UnclaimMessages :exec
UPDATE messages SET status = 'queued', queued_at = now()
WHERE id = ANY(@ids::bigint[]) AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- A queued message whose campaign stopped goes back to pending, to wait for a resume.
-- name: UnqueueStopped :exec
UPDATE messages m SET status = 'pending', queued_at = NULL
WHERE m.id = @id AND m.status = 'queued' AND NOT message_may_send(m.broadcast_id, m.enrollment_id);

-- Records the sends that finished together, each with the path it took (messages or
-- marketing_messages). Rows are locked in id order, as webhooks lock them, so the two never
-- deadlock.
-- name: SentMessages :exec
WITH sent AS (
    SELECT unnest(@ids::bigint[]) AS id, unnest(@wamids::text[]) AS wamid, unnest(@paths::text[]) AS path
), locked AS (
    SELECT m.id FROM messages m WHERE m.id = ANY(@ids::bigint[]) ORDER BY m.id FOR UPDATE
)
UPDATE messages m SET wamid = sent.wamid, sent_at = LEAST(COALESCE(m.sent_at, now()), now()), delivery_path = sent.path,
    reason = CASE WHEN m.reason IN ('tier', 'retry') THEN NULL ELSE m.reason END,
    status = CASE WHEN message_rank(m.status) < message_rank('sent') THEN 'sent' ELSE m.status END
FROM sent JOIN locked ON locked.id = sent.id
WHERE m.id = sent.id;

-- name: FailMessage :exec
UPDATE messages SET status = 'failed', failed_at = now(), error_code = sqlc.narg(error_code), reason = @reason
WHERE id = @id AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- name: SkipMessage :exec
UPDATE messages SET status = 'skipped', reason = @reason WHERE id = @id AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- name: UnknownMessage :exec
UPDATE messages SET status = 'unknown', reason = @reason WHERE id = @id AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- Hands a message back to the queue (a retry of the same task follows).
-- name: RequeueMessage :exec
UPDATE messages SET status = 'queued', queued_at = now(), reason = NULLIF(reason, 'tier')
WHERE id = @id AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- Holds a message until due_at (a full tier, a later retry).
-- name: DeferMessage :exec
UPDATE messages SET status = 'pending', due_at = @due_at, queued_at = NULL, reason = NULLIF(reason, 'tier')
WHERE id = @id AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- Holds a message the portfolio's messaging tier has no room for (reason 'tier') until due_at,
-- when a slot of the moving 24 h frees (the tier-wait job spreads the held over the slots).
-- name: HoldForTier :exec
UPDATE messages SET status = 'pending', due_at = @due_at, queued_at = NULL, reason = 'tier'
WHERE id = @id AND status = 'sending' AND sending_at = @claimed_at::timestamptz;

-- name: PauseBroadcastsOfChannel :exec
UPDATE broadcasts SET status = 'paused', status_reason = @reason, pause_cause = @pause_cause, updated_at = now()
WHERE channel_id = @channel_id AND status IN ('running', 'scheduled');

-- name: PauseBroadcastsOfTemplate :exec
UPDATE broadcasts SET status = 'paused', status_reason = @reason, pause_cause = @pause_cause, updated_at = now()
WHERE template_id = @template_id AND status IN ('running', 'scheduled');

-- Cancels the unfinished broadcasts of a template Meta disabled, dropping what they have not
-- sent. One still expanding runs on, and pauses for the template at its first send.
-- name: CancelBroadcastsOfTemplate :execrows
WITH b AS (
    UPDATE broadcasts SET status = 'cancelled', status_reason = @reason, pause_cause = NULL, finished_at = now(), updated_at = now()
    WHERE broadcasts.template_id = @template_id AND broadcasts.status IN ('scheduled', 'running', 'paused')
    RETURNING id
)
UPDATE messages m SET status = 'skipped', reason = 'template_disabled'
FROM b WHERE m.broadcast_id = b.id AND m.status IN ('pending', 'queued');

-- Meta refused a channel for its Marketing Messages API: its marketing templates go through
-- Cloud API until the user turns the API on again. Only a channel still on changes (the first
-- refusal of many concurrent sends is the one noted).
-- name: RefuseMarketingMessages :execrows
UPDATE channels SET marketing_messages = 'refused', marketing_messages_note = @note, marketing_messages_at = now(), updated_at = now()
WHERE id = @id AND marketing_messages = 'on';

-- name: PauseChannel :exec
UPDATE channels SET status = 'paused', status_reason = @reason, updated_at = now() WHERE id = @id;

-- name: OptOutContact :exec
WITH changed AS (
    UPDATE contacts SET opted_in = false, opt_in_changed_at = now(), opt_in_source = @source::text, updated_at = now()
    WHERE contacts.id = @contact_id::bigint AND contacts.opted_in
    RETURNING contacts.id, contacts.account_id
)
INSERT INTO consent_events (account_id, contact_id, opted_in, source, set_by)
SELECT changed.account_id, changed.id, false, @source::text, 'meta' FROM changed;

-- What a portfolio's numbers sent, or may be sending, in the moving 24 h: the shared limiter
-- rebuilds its state from it when Redis lost it (wiped, or restarted without persistence).
-- Unknown and sending rows count, as Meta may have (or get) them. A portfolio that sent in the
-- last second is busy: throughput slots handed out before the loss may still be ahead (an idle
-- one, or one used for the first time, has none). Rare (once per portfolio after a loss), so the
-- unknown rows' scan is fine.
-- name: PortfolioUsage :many
SELECT substr(ct.phone, 2)::text AS recipient, COALESCE(m.sent_at, m.sending_at, now())::timestamptz AS at,
    COALESCE(m.sent_at > now() - interval '1 second', false)::boolean AS busy
FROM portfolios p
JOIN channels ch ON ch.portfolio_id = p.id
JOIN messages m ON m.account_id = p.account_id AND m.channel_id = ch.id
JOIN contacts ct ON ct.id = m.contact_id
WHERE p.id = @portfolio_id
  AND (m.sent_at > now() - interval '24 hours'
    OR (m.status IN ('sending', 'unknown') AND m.sending_at > now() - interval '24 hours'));

-- A row a batched write could not take, with its error (see the set_aside table). The account is
-- the message's, which must be the channel's.
-- name: SetAside :exec
INSERT INTO set_aside (account_id, batch, message_id, payload, error)
SELECT m.account_id, @batch, m.id, @payload, @error FROM messages m WHERE m.id = @message_id::bigint AND m.channel_id = @channel_id;

-- A send Meta accepted whose record could not be written with its wamid (set aside): sent, without
-- the wamid, so it does not wait in sending for the sweep.
-- name: SentWithoutWAMID :exec
UPDATE messages SET status = 'sent', sent_at = COALESCE(sent_at, now()), reason = 'record_failed', delivery_path = @path
WHERE id = @id AND status = 'sending';

-- Running broadcasts wait while their only unsent messages are held: by the portfolio's tier
-- (pending, reason tier) or for a retry (reason retry), until the next of them is due; when both
-- hold some, the tier's wait shows. A broadcast with other work is not scanned further (the
-- lateral's condition is checked before its subqueries run) and stops waiting.
-- name: MarkWaits :exec
UPDATE broadcasts b SET tier_wait_until = w.tier, retry_wait_until = w.retry, updated_at = now()
FROM (
    SELECT b.id, h.tier, CASE WHEN h.tier IS NULL THEN h.retry END AS retry
    FROM broadcasts b
    LEFT JOIN LATERAL (
        SELECT (SELECT min(m.due_at) FROM messages m WHERE m.broadcast_id = b.id AND m.status = 'pending' AND m.reason = 'tier') AS tier,
               (SELECT min(m.due_at) FROM messages m WHERE m.broadcast_id = b.id AND m.status = 'pending' AND m.reason = 'retry') AS retry
        WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.broadcast_id = b.id AND m.status IN ('queued', 'sending')
                          OR m.broadcast_id = b.id AND m.status = 'pending' AND m.reason IS DISTINCT FROM 'tier'
                             AND m.reason IS DISTINCT FROM 'retry')
    ) h ON true
    WHERE b.status = 'running'
) w
WHERE b.id = w.id AND (b.tier_wait_until IS DISTINCT FROM w.tier OR b.retry_wait_until IS DISTINCT FROM w.retry);

-- name: ClearWaits :exec
UPDATE broadcasts SET tier_wait_until = NULL, retry_wait_until = NULL
WHERE status <> 'running' AND (tier_wait_until IS NOT NULL OR retry_wait_until IS NOT NULL);

-- Portfolios with messages the tier holds, their tier (null: unlimited now), and how many are held
-- (at most lim each are spread at a time).
-- name: TierHeldPortfolios :many
SELECT ch.portfolio_id, p.tier_limit, least(count(*), @lim::bigint)::int AS held
FROM messages m JOIN channels ch ON ch.id = m.channel_id JOIN portfolios p ON p.id = ch.portfolio_id
WHERE m.status = 'pending' AND m.reason = 'tier'
GROUP BY ch.portfolio_id, p.tier_limit;

-- Spreads a portfolio's held messages over the times its tier's slots free, the oldest held
-- first: the i-th goes at the i-th time; any beyond the times given wait for the last.
-- name: SpreadTierHeld :exec
WITH held AS (
    SELECT m.id, row_number() OVER (ORDER BY m.id) AS n
    FROM messages m JOIN channels ch ON ch.id = m.channel_id
    WHERE ch.portfolio_id = @portfolio_id AND m.status = 'pending' AND m.reason = 'tier'
), at AS (
    SELECT t, n FROM unnest(@times::timestamptz[]) WITH ORDINALITY AS x(t, n)
)
UPDATE messages m SET due_at = COALESCE(at.t, (SELECT max(t) FROM at))
FROM held LEFT JOIN at ON at.n = held.n
WHERE m.id = held.id AND m.status = 'pending' AND m.due_at IS DISTINCT FROM COALESCE(at.t, (SELECT max(t) FROM at));

-- Whether a claimed message's campaign still runs (its broadcast not paused or stopped since the
-- claim, its sequence still active).
-- name: MayStillSend :one
SELECT message_may_send(broadcast_id, enrollment_id)::boolean FROM messages WHERE id = @id;
