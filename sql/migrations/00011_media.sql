-- +goose Up
-- Files uploaded to Meta for media headers (POST /v1/channels/{id}/media). Meta keeps a file 30
-- days and answers an id only that number's messages may use; Dripcast keeps what it needs to
-- list the files and to tell a template's user when one has expired, not the file itself.
CREATE TABLE media (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    channel_id  bigint      NOT NULL REFERENCES channels ON DELETE CASCADE,
    media_id    text        NOT NULL,
    filename    text        NOT NULL,
    mime_type   text        NOT NULL,
    size_bytes  bigint      NOT NULL CHECK (size_bytes > 0),
    sha256      text        NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    UNIQUE (channel_id, media_id)
);
CREATE INDEX media_account ON media (account_id, channel_id, id);

-- +goose Down
DROP TABLE media;
