-- name: CreatePortfolio :one
INSERT INTO portfolios (account_id, name, business_id, tier_limit)
VALUES (@account_id, @name, @business_id, sqlc.narg(tier_limit))
RETURNING *;

-- name: GetPortfolio :one
SELECT * FROM portfolios WHERE account_id = @account_id AND id = @id;

-- name: ListPortfolios :many
SELECT * FROM portfolios WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdatePortfolio :one
UPDATE portfolios SET name = @name, business_id = @business_id, tier_limit = sqlc.narg(tier_limit), updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: CreateChannel :one
INSERT INTO channels (account_id, portfolio_id, name, phone_number_id, waba_id, display_number,
                      access_token_enc, app_secret_enc, meta_mps, throughput_cap, throughput_mps, quality_rating)
VALUES (@account_id, @portfolio_id, @name, @phone_number_id, @waba_id, @display_number,
        @access_token_enc, @app_secret_enc, @meta_mps, sqlc.narg(throughput_cap),
        LEAST(@meta_mps, COALESCE(sqlc.narg(throughput_cap), 1000)), @quality_rating)
RETURNING *;

-- name: GetChannel :one
SELECT * FROM channels WHERE account_id = @account_id AND id = @id;

-- name: ListChannels :many
SELECT * FROM channels WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- A field left NULL keeps its value.
-- name: UpdateChannel :one
UPDATE channels SET
    name = COALESCE(sqlc.narg(name), name),
    throughput_cap = COALESCE(sqlc.narg(throughput_cap), throughput_cap),
    throughput_mps = LEAST(meta_mps, COALESCE(sqlc.narg(throughput_cap), throughput_cap, 1000)),
    quality_rating = COALESCE(sqlc.narg(quality_rating), quality_rating),
    status = COALESCE(sqlc.narg(status), status),
    status_reason = COALESCE(sqlc.narg(status_reason), status_reason),
    display_number = COALESCE(sqlc.narg(display_number), display_number),
    access_token_enc = COALESCE(sqlc.narg(access_token_enc), access_token_enc),
    app_secret_enc = COALESCE(sqlc.narg(app_secret_enc), app_secret_enc),
    marketing_messages = COALESCE(sqlc.narg(marketing_messages), marketing_messages),
    marketing_messages_note = CASE WHEN sqlc.narg(marketing_messages)::text IS NULL THEN marketing_messages_note ELSE '' END,
    marketing_messages_at = CASE WHEN sqlc.narg(marketing_messages)::text IS DISTINCT FROM marketing_messages
                                  AND sqlc.narg(marketing_messages)::text IS NOT NULL THEN now() ELSE marketing_messages_at END,
    updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: DeleteChannel :execrows
DELETE FROM channels WHERE account_id = @account_id AND id = @id;

-- The refresh job reads every channel; across accounts by nature.
-- name: ChannelsToRefresh :many
SELECT id, portfolio_id, phone_number_id, access_token_enc, throughput_mps FROM channels WHERE status <> 'disconnected';

-- Meta's level (NULL: Meta said none, keep it), and the throughput under the owner's cap.
-- name: RefreshChannel :exec
UPDATE channels SET quality_rating = @quality_rating, meta_mps = COALESCE(sqlc.narg(meta_mps), meta_mps),
    throughput_mps = LEAST(COALESCE(sqlc.narg(meta_mps), meta_mps), COALESCE(throughput_cap, 1000)), updated_at = now()
WHERE id = @id;

-- Every sealed secret, for `dripcast admin rotate-key` (across accounts by nature).
-- name: SealedChannelSecrets :many
SELECT id, phone_number_id, access_token_enc, app_secret_enc FROM channels ORDER BY id;

-- Re-encrypted secrets are written only if nobody changed them in the meantime.
-- name: ResealChannel :execrows
UPDATE channels SET access_token_enc = @access_token_enc, app_secret_enc = @app_secret_enc
WHERE id = @id AND access_token_enc = @old_access_token_enc AND app_secret_enc = @old_app_secret_enc;

-- Every portfolio's tier, for the tier gauges (across accounts by nature).
-- name: PortfolioTiers :many
SELECT id, tier_limit FROM portfolios ORDER BY id;

-- One channel of each account and WABA, for the template sync (the scheduler reads across
-- accounts); wanted_only: those a webhook asked for.
-- name: ChannelsToSyncTemplates :many
SELECT DISTINCT ON (account_id, waba_id) id, account_id FROM channels
WHERE status <> 'disconnected' AND (NOT @wanted_only::boolean OR templates_wanted_at IS NOT NULL)
ORDER BY account_id, waba_id, id;

-- Meta named a template the account does not have: its WABA is synced soon.
-- name: WantTemplateSync :exec
UPDATE channels SET templates_wanted_at = now()
WHERE account_id = @account_id AND waba_id = @waba_id AND templates_wanted_at IS NULL;

-- name: TemplateSyncDone :exec
UPDATE channels SET templates_wanted_at = NULL WHERE account_id = @account_id AND waba_id = @waba_id AND templates_wanted_at IS NOT NULL;

-- name: InsertMedia :one
INSERT INTO media (account_id, channel_id, media_id, filename, mime_type, size_bytes, sha256, expires_at)
VALUES (@account_id, @channel_id, @media_id, @filename, @mime_type, @size_bytes, @sha256, @expires_at)
RETURNING *;

-- name: ListMedia :many
SELECT * FROM media WHERE account_id = @account_id AND channel_id = @channel_id AND id > @after ORDER BY id LIMIT @lim;

-- name: MediaByID :many
SELECT channel_id, expires_at FROM media WHERE account_id = @account_id AND media_id = @media_id;
