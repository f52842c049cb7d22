-- +goose Up
-- A contact import run from the console: its counts and its rejected rows (line and reason, the
-- first 1,000), so the rejects can be downloaded after the page that showed them.
CREATE TABLE imports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    file_name   text        NOT NULL DEFAULT '',
    created     integer     NOT NULL DEFAULT 0,
    updated     integer     NOT NULL DEFAULT 0,
    rejected    integer     NOT NULL DEFAULT 0,
    errors      jsonb       NOT NULL DEFAULT '[]',
    stopped     text        NOT NULL DEFAULT '', -- why the import stopped early, if it did
    user_id     bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_account ON imports (account_id, id);

-- +goose Down
DROP TABLE imports;
