-- +goose Up
-- Bulk exports that need approval (recipient and audit CSVs). With exports_need_approval, an
-- export by anyone but an owner is a request that another owner or admin approves; the approved
-- download works once, within an hour of the approval, for the requester only.
ALTER TABLE accounts ADD COLUMN exports_need_approval boolean NOT NULL DEFAULT false;

CREATE TABLE export_requests (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    -- recipients: params {"broadcast_id", "status"}; audit: params {"action", "target_type"}
    kind              text        NOT NULL CHECK (kind IN ('recipients', 'audit')),
    params            jsonb       NOT NULL DEFAULT '{}',
    -- Who asked: a key or a person (the only one who may download it).
    requested_by_key  bigint      REFERENCES api_keys ON DELETE CASCADE,
    requested_by_user bigint      REFERENCES users ON DELETE CASCADE,
    requester_name    text        NOT NULL,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'approved', 'rejected', 'downloaded')),
    decided_by_name   text,
    decided_at        timestamptz,
    expires_at        timestamptz,
    downloaded_at     timestamptz,
    CHECK ((requested_by_key IS NULL) <> (requested_by_user IS NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (status NOT IN ('approved', 'downloaded') OR expires_at IS NOT NULL)
);
CREATE INDEX export_requests_account ON export_requests (account_id, id DESC);

-- +goose Down
DROP TABLE export_requests;
ALTER TABLE accounts DROP COLUMN exports_need_approval;
