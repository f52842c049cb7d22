-- +goose Up
-- What Meta said of each template over time (message_template_status_update and
-- message_template_quality_update), newest first on its page; and the warning of a FLAGGED
-- template: Meta disables it on disable_date unless its quality improves.
CREATE TABLE template_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    template_id bigint      NOT NULL REFERENCES templates ON DELETE CASCADE,
    event       text        NOT NULL, -- Meta's event (APPROVED, PAUSED, FLAGGED, REINSTATED, …) or QUALITY
    detail      text        NOT NULL DEFAULT '', -- Meta's reason, a disable date, a quality change
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_events_template ON template_events (account_id, template_id, at DESC, id DESC);

ALTER TABLE templates ADD COLUMN flagged_at timestamptz, ADD COLUMN disable_date timestamptz;

-- +goose Down
ALTER TABLE templates DROP COLUMN flagged_at, DROP COLUMN disable_date;
DROP TABLE template_events;
