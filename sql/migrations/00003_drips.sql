-- +goose Up
-- Drip sequences: versioned definitions, enrollments the scheduler advances, step messages that
-- travel the broadcasts' path (messages → feeder → worker), integration events and webhooks.

-- A sequence's definition (trigger, conditions, exits, windows, steps) lives in its versions, as
-- JSON: an edit of a running sequence adds a version and enrolled contacts keep theirs.
DROP TABLE sequence_steps;
ALTER TABLE sequences
    DROP COLUMN settings,
    ADD COLUMN trigger_event text NOT NULL DEFAULT '', -- of the current version; '' = manual only
    ADD COLUMN status_reason text NOT NULL DEFAULT '',
    ADD COLUMN paused_at     timestamptz;
-- Events find the active sequences they start.
CREATE INDEX sequences_trigger ON sequences (account_id, trigger_event) WHERE status = 'active';

CREATE TABLE sequence_versions (
    sequence_id bigint      NOT NULL REFERENCES sequences ON DELETE CASCADE,
    version     integer     NOT NULL,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sequence_id, version)
);

-- paused: the sequence is paused; the contact waits where it is (and leaves the due index).
ALTER TABLE enrollments DROP CONSTRAINT enrollments_status_check;
ALTER TABLE enrollments
    ADD CONSTRAINT enrollments_status_check CHECK (status IN ('active', 'paused', 'completed', 'exited')),
    ADD COLUMN exit_detail  text NOT NULL DEFAULT '',
    ADD COLUMN last_step_at timestamptz,  -- when the latest step ran: delays "after the previous step" count from it
    ADD COLUMN event_id     bigint;       -- the event that enrolled the contact; NULL when enrolled by hand
-- One open enrollment per contact and sequence, whatever races between events and the API.
CREATE UNIQUE INDEX enrollments_open ON enrollments (sequence_id, contact_id) WHERE status IN ('active', 'paused');
CREATE INDEX enrollments_sequence ON enrollments (sequence_id, id);

-- What a drip step's send needs beyond the template: the step's parameter overrides and the
-- triggering event's properties. NULL for broadcast messages, which read their broadcast's.
ALTER TABLE messages ADD COLUMN context jsonb;
-- The feeder queues due drip steps before broadcast messages: an order confirmation must not wait
-- behind a million-recipient sale.
CREATE INDEX messages_pending_steps ON messages (channel_id, due_at) WHERE status = 'pending' AND enrollment_id IS NOT NULL;

ALTER TABLE events
    ADD COLUMN error    text NOT NULL DEFAULT '',
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

-- An inbound integration: a URL (/hooks/{token}) with its own signing secret.
CREATE TABLE integrations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name            text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('generic', 'shopify')),
    token           text        NOT NULL UNIQUE,
    secret_enc      bytea       NOT NULL,
    mapping         jsonb       NOT NULL DEFAULT '{}',
    default_country text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_account ON integrations (account_id, id);

-- Every signed delivery, stored before it is acknowledged; the scheduler turns it into an event.
CREATE TABLE integration_deliveries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    integration_id bigint      NOT NULL REFERENCES integrations ON DELETE CASCADE,
    delivery_id    text        NOT NULL,
    topic          text        NOT NULL DEFAULT '',
    payload        jsonb       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    processed_at   timestamptz,
    event_id       bigint,
    error          text        NOT NULL DEFAULT '',
    UNIQUE (integration_id, delivery_id)
);
CREATE INDEX integration_deliveries_unprocessed ON integration_deliveries (id) WHERE processed_at IS NULL;
CREATE INDEX integration_deliveries_integration ON integration_deliveries (integration_id, id);

-- Whether a message's campaign lets it go now: its broadcast runs, or its enrollment is open (or
-- completed: the last step's message is still on its way) in an active sequence. The worker's claim
-- and the release of stopped work share this one rule; the feeder's two queries join the same way.
-- +goose StatementBegin
CREATE FUNCTION message_may_send(broadcast bigint, enrollment bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN broadcast IS NOT NULL
        THEN EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = broadcast AND b.status = 'running')
        ELSE EXISTS (SELECT 1 FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
                     WHERE e.id = enrollment AND e.status IN ('active', 'completed') AND s.status = 'active')
    END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION message_may_send(bigint, bigint);
DROP TABLE integration_deliveries;
DROP TABLE integrations;
ALTER TABLE events DROP COLUMN attempts, DROP COLUMN error;
DROP INDEX messages_pending_steps;
ALTER TABLE messages DROP COLUMN context;
DROP INDEX enrollments_sequence;
DROP INDEX enrollments_open;
ALTER TABLE enrollments DROP CONSTRAINT enrollments_status_check;
ALTER TABLE enrollments DROP COLUMN event_id, DROP COLUMN last_step_at, DROP COLUMN exit_detail,
    ADD CONSTRAINT enrollments_status_check CHECK (status IN ('active', 'completed', 'exited'));
DROP TABLE sequence_versions;
DROP INDEX sequences_trigger;
ALTER TABLE sequences DROP COLUMN paused_at, DROP COLUMN status_reason, DROP COLUMN trigger_event,
    ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
CREATE TABLE sequence_steps (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    sequence_id   bigint      NOT NULL REFERENCES sequences ON DELETE CASCADE,
    version       integer     NOT NULL,
    position      smallint    NOT NULL,
    template_id   bigint      NOT NULL REFERENCES templates,
    delay_seconds integer     NOT NULL DEFAULT 0 CHECK (delay_seconds >= 0),
    parameters    jsonb       NOT NULL DEFAULT '{}',
    condition     jsonb,
    send_window   jsonb,
    UNIQUE (sequence_id, version, position)
);
