-- +goose Up
-- Message content and the personal data events carry are scrubbed after the account's retention
-- (policy.Retention, 90 days by default). These partial indexes hold only rows that still carry
-- some, so the hourly scrub finds the old ones without scanning a table that grows for years, and
-- a row leaves its index when scrubbed: each stays about as large as the retention's worth of
-- rows with content.
CREATE INDEX messages_with_context ON messages (account_id, due_at) WHERE context IS NOT NULL;
CREATE INDEX events_with_properties ON events (account_id, received_at) WHERE properties <> '{}';
CREATE INDEX integration_deliveries_with_payload ON integration_deliveries (account_id, received_at) WHERE payload <> '{}';
CREATE INDEX enrollments_finished_with_properties ON enrollments (account_id, finished_at)
    WHERE properties <> '{}' AND finished_at IS NOT NULL;

-- +goose Down
DROP INDEX enrollments_finished_with_properties;
DROP INDEX integration_deliveries_with_payload;
DROP INDEX events_with_properties;
DROP INDEX messages_with_context;
