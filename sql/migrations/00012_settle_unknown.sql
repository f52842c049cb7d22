-- +goose NO TRANSACTION
-- A new enum value cannot be used in the transaction that adds it: these statements run one by
-- one.

-- +goose Up
-- not_sent: a send that stayed unknown though Meta went on reporting later sends of its number;
-- a side exit like failed, which a late status webhook still moves on.
ALTER TYPE message_status ADD VALUE IF NOT EXISTS 'not_sent' AFTER 'unknown';

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION message_rank(s message_status) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'unknown' THEN 3
                  WHEN 'not_sent' THEN 3 WHEN 'sent' THEN 4 WHEN 'failed' THEN 5 WHEN 'delivered' THEN 6
                  WHEN 'read' THEN 7 WHEN 'skipped' THEN 8 END
$$;
-- +goose StatementEnd

-- How a send whose outcome was unknown was settled: by a status webhook; handed back to the
-- queue because its worker provably never wrote it (requeued); or concluded not sent after the
-- grace period (grace).
CREATE TYPE unknown_resolution AS ENUM ('webhook', 'requeued', 'grace');

-- claimed_by: the worker process that claimed the row (workers.id); settled, settled_at: see
-- unknown_resolution.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS claimed_by bigint,
    ADD COLUMN IF NOT EXISTS settled unknown_resolution, ADD COLUMN IF NOT EXISTS settled_at timestamptz;

-- The unknown rows the settle job looks at (few: a crash's or a timeout's).
CREATE INDEX IF NOT EXISTS messages_unknown ON messages (channel_id, sending_at) WHERE status = 'unknown';

-- Worker processes and their heartbeats. beat_at is the worker's own clock, as are the slots of
-- the sends it lists as waiting (pending_ids, pending_slots: each message's throughput slot); seen_at
-- is Postgres's, for telling a dead worker. A worker writes a listed send only while its slot is
-- at most the fence margin after its latest recorded beat, so once the worker is fenced (it can
-- record no more beats), a listed send whose slot is later than that was provably never written.
CREATE TABLE IF NOT EXISTS workers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    seen_at       timestamptz NOT NULL DEFAULT now(),
    beat_at       timestamptz NOT NULL,
    fenced_at     timestamptz,
    pending_ids   bigint[]      NOT NULL DEFAULT '{}',
    pending_slots timestamptz[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS workers_live ON workers (seen_at) WHERE fenced_at IS NULL;

GRANT SELECT (settled, settled_at) ON messages TO dripcast_readonly;

-- +goose Down
UPDATE messages SET status = 'unknown' WHERE status = 'not_sent';
DROP TABLE workers;
DROP INDEX messages_unknown;
ALTER TABLE messages DROP COLUMN claimed_by, DROP COLUMN settled, DROP COLUMN settled_at;
DROP TYPE unknown_resolution;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION message_rank(s message_status) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'unknown' THEN 3
                  WHEN 'sent' THEN 4 WHEN 'failed' THEN 5 WHEN 'delivered' THEN 6 WHEN 'read' THEN 7
                  WHEN 'skipped' THEN 8 END
$$;
-- +goose StatementEnd
