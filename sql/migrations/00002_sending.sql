-- +goose Up
-- What sending needs: the worker's timestamps and attempt count on messages, the indexes of the
-- feeder, recovery and reports, and broadcast retries.

ALTER TABLE messages
    ADD COLUMN sending_at timestamptz,          -- claimed by a worker: stuck rows are found by it
    ADD COLUMN attempts   smallint NOT NULL DEFAULT 0;

-- Reports count a broadcast's messages by status.
CREATE INDEX messages_broadcast_status ON messages (broadcast_id, status) WHERE broadcast_id IS NOT NULL;
-- Recovery finds rows that stayed queued or sending too long.
CREATE INDEX messages_in_flight ON messages (status, queued_at) WHERE status IN ('queued', 'sending');

ALTER TABLE broadcasts
    ADD COLUMN retry_of bigint REFERENCES broadcasts; -- "retry failed" makes a broadcast of the failed

-- A portfolio's tier in Meta's names is derived from tier_limit; NULL is unlimited.
COMMENT ON COLUMN portfolios.tier_limit IS 'unique recipients per moving 24 h; NULL = unlimited';

-- +goose Down
ALTER TABLE broadcasts DROP COLUMN retry_of;
DROP INDEX messages_in_flight;
DROP INDEX messages_broadcast_status;
ALTER TABLE messages DROP COLUMN attempts, DROP COLUMN sending_at;
