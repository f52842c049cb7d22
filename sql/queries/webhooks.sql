-- The channels a webhook delivery names, by phone number id or WABA (ids Meta confirmed when the
-- channel was registered), with the app secrets that may have signed it. Across accounts by
-- nature: the signature decides which of them the delivery may change.
-- name: ChannelsForWebhook :many
SELECT id, account_id, portfolio_id, phone_number_id, waba_id, display_number, app_secret_enc
FROM channels
WHERE phone_number_id = ANY(@numbers::text[]) OR waba_id = ANY(@wabas::text[])
ORDER BY id;

-- name: MessageIDsByWAMID :many
SELECT id, wamid FROM messages WHERE channel_id = @channel_id AND wamid = ANY(@wamids::text[]);

-- Applies statuses given as a JSON array, one object per message (merged by the caller) with
-- id, wamid, status, sent_at, delivered_at, read_at, failed_at, code and the attempt they are
-- about (absent: the current one). The status only moves up in rank; each status keeps the first
-- time it was seen; skipped stays skipped. A status of an earlier attempt of a message its retry
-- policy sent again (a duplicate, or one delayed) changes nothing.
-- name: ApplyStatuses :one
WITH s AS (
    SELECT (e ->> 'id')::bigint AS id, e ->> 'wamid' AS wamid, (e ->> 'status')::message_status AS status,
           (e ->> 'sent_at')::timestamptz AS sent_at, (e ->> 'delivered_at')::timestamptz AS delivered_at,
           (e ->> 'read_at')::timestamptz AS read_at, (e ->> 'failed_at')::timestamptz AS failed_at,
           (e ->> 'code')::int AS code, (e ->> 'billable')::boolean AS billable, e ->> 'pricing_category' AS pricing_category,
           (e ->> 'attempt')::smallint AS attempt
    FROM jsonb_array_elements(@rows::jsonb) AS e
), applied AS (
UPDATE messages m SET
    status = CASE WHEN m.status <> 'skipped' AND message_rank(s.status) > message_rank(m.status)
                  THEN s.status ELSE m.status END,
    wamid = COALESCE(m.wamid, s.wamid),
    sent_at = COALESCE(m.sent_at, s.sent_at),
    delivered_at = COALESCE(m.delivered_at, s.delivered_at),
    read_at = COALESCE(m.read_at, s.read_at),
    failed_at = COALESCE(m.failed_at, s.failed_at),
    error_code = COALESCE(s.code, m.error_code),
    billable = COALESCE(s.billable, m.billable),
    pricing_category = COALESCE(s.pricing_category, m.pricing_category),
    reason = CASE WHEN s.code IS NOT NULL AND (m.reason IS NULL OR m.reason = 'retry') THEN 'meta_error' ELSE m.reason END,
    -- An unknown (or not_sent) send a status moves on is settled by the webhook: settled_at is
    -- this transaction's now() only on the rows settled by this statement.
    settled = CASE WHEN m.status IN ('unknown', 'not_sent') AND message_rank(s.status) > message_rank(m.status)
                   THEN 'webhook' ELSE m.settled END,
    settled_at = CASE WHEN m.status IN ('unknown', 'not_sent') AND message_rank(s.status) > message_rank(m.status)
                      THEN now() ELSE m.settled_at END
FROM s
WHERE m.id = s.id AND m.channel_id = @channel_id AND m.retries = COALESCE(s.attempt, m.retries)
RETURNING m.settled_at = now() AS settled_now
)
SELECT count(*)::bigint AS updated, count(*) FILTER (WHERE settled_now)::bigint AS settled FROM applied;

-- name: ContactForInbound :one
SELECT id FROM contacts WHERE account_id = @account_id AND phone = @phone;

-- name: MarkInbound :exec
UPDATE contacts SET last_inbound_at = GREATEST(last_inbound_at, @at::timestamptz) WHERE id = @id;

-- A reply or an opt-out is charged to the message it answers: the one whose wamid it quotes, or
-- else (context empty) the latest message sent to the contact in the 3 days before. A reply marks
-- it replied; an opt-out marks it too, so a campaign that drives people away can pause itself.
-- name: MarkAnswered :execrows
WITH target AS (
    SELECT m.id FROM messages m
    WHERE m.channel_id = @channel_id::bigint AND m.contact_id = @contact_id::bigint AND m.sent_at IS NOT NULL
      AND CASE WHEN @context::text = '' THEN m.sent_at + interval '3 days' > @at::timestamptz
               ELSE m.wamid = @context::text END
    ORDER BY m.sent_at DESC
    LIMIT 1
)
UPDATE messages SET
    replied_at = CASE WHEN @replied::boolean THEN COALESCE(replied_at, @at::timestamptz) ELSE replied_at END,
    opted_out_at = CASE WHEN @opted_out::boolean THEN COALESCE(opted_out_at, @at::timestamptz) ELSE opted_out_at END
FROM target WHERE messages.id = target.id;

-- name: SetChannelQuality :exec
UPDATE channels SET quality_rating = @quality_rating, updated_at = now() WHERE id = @id;

-- name: SetPortfolioTier :exec
UPDATE portfolios SET tier_limit = sqlc.narg(tier_limit), updated_at = now() WHERE id = @id;

-- RED quality pauses the marketing broadcasts of the number.
-- name: PauseMarketingOfChannel :exec
UPDATE broadcasts b SET status = 'paused', status_reason = @reason, pause_cause = @pause_cause, updated_at = now()
FROM templates t
WHERE t.id = b.template_id AND t.category = 'marketing' AND b.channel_id = @channel_id AND b.status IN ('running', 'scheduled');

-- A template's quality score; back to GREEN, it is no longer flagged.
-- name: SetTemplateQualityByName :exec
UPDATE templates SET quality_score = @quality_score, updated_at = now(),
    flagged_at = CASE WHEN @quality_score = 'GREEN' THEN NULL ELSE flagged_at END,
    disable_date = CASE WHEN @quality_score = 'GREEN' THEN NULL ELSE disable_date END
WHERE account_id = ANY(@account_ids::bigint[]) AND name = @name AND language = @language;

-- A template's status as Meta set it. clear_flag drops a FLAGGED warning Meta's decision ended
-- (the template was disabled, or reinstated).
-- name: SetTemplateStatusByName :many
UPDATE templates SET status = @status, updated_at = now(),
    flagged_at = CASE WHEN @clear_flag::boolean THEN NULL ELSE flagged_at END,
    disable_date = CASE WHEN @clear_flag::boolean THEN NULL ELSE disable_date END
WHERE account_id = @account_id AND name = @name AND language = @language
RETURNING id;

-- Meta flagged a template for low quality: it is disabled on disable_date (when Meta gives one)
-- unless its quality improves. It still sends meanwhile.
-- name: FlagTemplateByName :exec
UPDATE templates SET flagged_at = now(), disable_date = @disable_date, updated_at = now()
WHERE account_id = ANY(@account_ids::bigint[]) AND name = @name AND language = @language;

-- Notes what Meta said on the history of the accounts' templates of that name and language.
-- name: RecordTemplateEvent :exec
INSERT INTO template_events (account_id, template_id, event, detail)
SELECT account_id, id, @event, @detail FROM templates
WHERE account_id = ANY(@account_ids::bigint[]) AND name = @name AND language = @language;

-- Broadcasts paused because of a template run again when Meta approves it again.
-- name: ResumeBroadcastsOfTemplate :exec
UPDATE broadcasts SET status = 'running', status_reason = '', pause_cause = NULL, updated_at = now()
WHERE template_id = @template_id AND status = 'paused' AND pause_cause = ANY(@causes::text[]);

-- Locks the messages a delivery updates in id order, so two deliveries about the same messages
-- cannot deadlock; only the channel's own.
-- name: LockMessages :exec
SELECT id FROM messages WHERE id = ANY(@ids::bigint[]) AND channel_id = @channel_id ORDER BY id FOR UPDATE;
