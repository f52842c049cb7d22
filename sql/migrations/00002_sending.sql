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
    ADD COLUMN retry_of    bigint REFERENCES broadcasts, -- "retry failed" makes a broadcast of the failed
    ADD COLUMN local_date  date,                         -- with local_time: that wall-clock time in each contact's zone
    ADD COLUMN expanded_at timestamptz;                  -- every recipient has its message row

-- How far a message has come. Status webhooks only ever raise it: a late "sent" never undoes
-- "read". failed ranks above sent (a message can fail after it was sent) and below delivered
-- (another device of the user can still report delivered after a failure).
-- +goose StatementBegin
CREATE FUNCTION message_rank(s message_status) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'unknown' THEN 3
                  WHEN 'sent' THEN 4 WHEN 'failed' THEN 5 WHEN 'delivered' THEN 6 WHEN 'read' THEN 7
                  WHEN 'skipped' THEN 8 END
$$;
-- +goose StatementEnd

-- A portfolio's tier in Meta's names is derived from tier_limit; NULL is unlimited.
COMMENT ON COLUMN portfolios.tier_limit IS 'unique recipients per moving 24 h; NULL = unlimited';

-- +goose Down
DROP FUNCTION message_rank(message_status);
ALTER TABLE broadcasts DROP COLUMN retry_of, DROP COLUMN local_date, DROP COLUMN expanded_at;
DROP INDEX messages_in_flight;
DROP INDEX messages_broadcast_status;
ALTER TABLE messages DROP COLUMN attempts, DROP COLUMN sending_at;
