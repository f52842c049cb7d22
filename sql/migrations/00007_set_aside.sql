-- +goose Up
-- Rows a batched write could not take (a repeated wamid, a value Postgres refuses): the batch was
-- written again row by row, every other row landed, and this one waits here, with its error, for
-- a person (dripcast_rows_set_aside_total counts them).
CREATE TABLE set_aside (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    batch      text        NOT NULL CHECK (batch IN ('sent', 'status')), -- the worker's sent records, webhook statuses
    message_id bigint,     -- no reference: the message may be deleted by retention
    payload    jsonb       NOT NULL,
    error      text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX set_aside_at ON set_aside (at);

-- +goose Down
DROP TABLE set_aside;
