-- name: CreateIntegration :one
INSERT INTO integrations (account_id, name, kind, token, secret_enc, mapping, default_country, overwrite_contacts)
VALUES (@account_id, @name, @kind, @token, @secret_enc, @mapping, @default_country, @overwrite_contacts)
RETURNING *;

-- name: GetIntegration :one
SELECT * FROM integrations WHERE account_id = @account_id AND id = @id;

-- name: ListIntegrations :many
SELECT * FROM integrations WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateIntegration :one
UPDATE integrations SET name = @name, mapping = @mapping, default_country = @default_country,
    overwrite_contacts = @overwrite_contacts,
    secret_enc = COALESCE(sqlc.narg(secret_enc), secret_enc), updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: DeleteIntegration :execrows
DELETE FROM integrations WHERE account_id = @account_id AND id = @id;

-- The public webhook URL names an integration by its unguessable token, across accounts.
-- name: IntegrationByToken :one
SELECT * FROM integrations WHERE token = @token;

-- name: InsertDelivery :one
INSERT INTO integration_deliveries (account_id, integration_id, delivery_id, topic, payload)
VALUES (@account_id, @integration_id, @delivery_id, @topic, @payload)
ON CONFLICT (integration_id, delivery_id) DO NOTHING
RETURNING id;

-- name: ListDeliveries :many
SELECT id, delivery_id, topic, received_at, processed_at, event_id, error FROM integration_deliveries
WHERE account_id = @account_id AND integration_id = @integration_id AND id > @after
ORDER BY id LIMIT @lim;

-- Deliveries not yet turned into events, oldest first, with their integration's reading rules
-- (the scheduler leader is their only reader).
-- name: PendingDeliveries :many
SELECT d.id, d.account_id, d.integration_id, d.delivery_id, d.topic, d.payload, i.kind, i.mapping, i.default_country,
       i.overwrite_contacts
FROM integration_deliveries d JOIN integrations i ON i.id = d.integration_id
WHERE d.processed_at IS NULL
ORDER BY d.id LIMIT @lim;

-- name: FinishDelivery :exec
UPDATE integration_deliveries SET processed_at = now(), event_id = sqlc.narg(event_id), error = @error
WHERE id = @id;

-- name: SealedIntegrationSecrets :many
SELECT id, token, secret_enc FROM integrations ORDER BY id;

-- name: ResealIntegration :execrows
UPDATE integrations SET secret_enc = @secret_enc WHERE id = @id AND secret_enc = @old_secret_enc;

-- An integration's latest deliveries, newest first (the console's list).
-- name: RecentDeliveries :many
SELECT id, delivery_id, topic, received_at, processed_at, event_id, error FROM integration_deliveries
WHERE account_id = @account_id AND integration_id = @integration_id
ORDER BY id DESC LIMIT @lim;
