-- +goose Up
-- A broadcast's retry policy (policy.Retry as JSON; NULL: off): failures whose class says a later
-- attempt can succeed are sent again by the retry job, at times the policy gives.
ALTER TABLE broadcasts ADD COLUMN retry_policy jsonb;
-- A running broadcast whose only unsent messages wait for a retry is retrying until then (the
-- next of them); the retry job sets and clears it.
ALTER TABLE broadcasts ADD COLUMN retry_wait_until timestamptz;

-- retries: how many times the message was sent again by its broadcast's retry policy (its current
-- attempt's number; 0 for the first). retry_done: the retry job has decided this failure stays.
ALTER TABLE messages ADD COLUMN retries smallint NOT NULL DEFAULT 0,
    ADD COLUMN retry_done boolean NOT NULL DEFAULT false;
GRANT SELECT (retries) ON messages TO dripcast_readonly;

-- The failures the retry job has not decided on (few: a broadcast's failed share).
CREATE INDEX messages_retry_undecided ON messages (id) WHERE status = 'failed' AND broadcast_id IS NOT NULL AND NOT retry_done;
-- Failures decided before this migration stay as they are.
UPDATE messages SET retry_done = true WHERE status = 'failed' AND broadcast_id IS NOT NULL;

-- The earlier attempts of a message sent again: what each was and how it ended. The message row
-- holds its current attempt.
CREATE TABLE message_attempts (
    message_id   bigint      NOT NULL,
    attempt      smallint    NOT NULL,  -- 0: the first send
    account_id   bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    broadcast_id bigint      NOT NULL,
    at           timestamptz NOT NULL,  -- when it was sent (claimed by a worker)
    wamid        text,
    error_code   integer,
    reason       text,
    failed_at    timestamptz,
    PRIMARY KEY (message_id, attempt)
);
CREATE INDEX message_attempts_broadcast ON message_attempts (broadcast_id, attempt);
GRANT SELECT (message_id, attempt, account_id, broadcast_id, at, error_code, failed_at) ON message_attempts TO dripcast_readonly;

-- +goose Down
DROP TABLE message_attempts;
DROP INDEX messages_retry_undecided;
ALTER TABLE messages DROP COLUMN retries, DROP COLUMN retry_done;
ALTER TABLE broadcasts DROP COLUMN retry_policy, DROP COLUMN retry_wait_until;
