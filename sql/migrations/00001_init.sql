-- +goose Up
-- The first schema of Dripcast. Every tenant table carries account_id; every query of tenant data
-- filters by it.

CREATE TABLE accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Per-account policy (frequency cap, opt-out keywords, quality policy), read by later roles.
    settings   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- An API key is "dc_<prefix>_<secret>": the prefix finds the row, only a SHA-256 of the secret is
-- kept. Secrets are 32 random bytes, so a fast hash is enough (nothing to brute-force).
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name         text        NOT NULL,
    prefix       text        NOT NULL UNIQUE,
    secret_hash  bytea       NOT NULL,
    role         text        NOT NULL DEFAULT 'owner'
                 CHECK (role IN ('owner', 'admin', 'marketer', 'analyst', 'integration')),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- A Meta business portfolio: its messaging tier (unique users per moving 24 h) is shared by all of
-- its numbers. NULL tier_limit means unlimited.
CREATE TABLE portfolios (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name        text        NOT NULL,
    business_id text        NOT NULL DEFAULT '',
    tier_limit  integer     DEFAULT 250 CHECK (tier_limit > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portfolios_account ON portfolios (account_id);

-- A WhatsApp business phone number. phone_number_id is Meta's id and routes webhooks, so it is
-- unique across accounts. Tokens and secrets are stored encrypted (the *_enc columns).
CREATE TABLE channels (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    portfolio_id     bigint      NOT NULL REFERENCES portfolios,
    name             text        NOT NULL DEFAULT '',
    phone_number_id  text        NOT NULL UNIQUE,
    waba_id          text        NOT NULL,
    display_number   text        NOT NULL,
    access_token_enc bytea       NOT NULL,
    app_secret_enc   bytea       NOT NULL,
    throughput_mps   integer     NOT NULL DEFAULT 80 CHECK (throughput_mps BETWEEN 1 AND 1000),
    quality_rating   text        NOT NULL DEFAULT 'GREEN' CHECK (quality_rating IN ('GREEN', 'YELLOW', 'RED', 'UNKNOWN')),
    status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disconnected')),
    status_reason    text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_account ON channels (account_id);

CREATE TABLE contacts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    phone             text        NOT NULL,             -- E.164
    wa_id             text        NOT NULL DEFAULT '',  -- as Meta reports it; may differ from phone
    name              text        NOT NULL DEFAULT '',
    email             text        NOT NULL DEFAULT '',
    tags              text[]      NOT NULL DEFAULT '{}',
    attributes        jsonb       NOT NULL DEFAULT '{}',
    country           text        NOT NULL DEFAULT '',  -- ISO 3166 alpha-2, from the phone number
    time_zone         text        NOT NULL DEFAULT 'UTC',
    opted_in          boolean     NOT NULL DEFAULT false, -- marketing opt-in
    opt_in_changed_at timestamptz,
    opt_in_source     text        NOT NULL DEFAULT '',
    last_inbound_at   timestamptz,                      -- opens Meta's 24 h service window
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, phone)
);
CREATE INDEX contacts_account_id ON contacts (account_id, id);
CREATE INDEX contacts_tags ON contacts USING gin (tags);
CREATE INDEX contacts_attributes ON contacts USING gin (attributes jsonb_path_ops);

-- Every change of marketing consent, with its source and time (proof of opt-in for Meta's policy).
CREATE TABLE consent_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    contact_id bigint      NOT NULL REFERENCES contacts ON DELETE CASCADE,
    opted_in   boolean     NOT NULL,
    source     text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_events_contact ON consent_events (contact_id, at);

CREATE TABLE segments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name       text        NOT NULL,
    rules      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);

-- A template as Meta approved it, and how each of its parameters is filled.
CREATE TABLE templates (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name       text        NOT NULL,
    language   text        NOT NULL,
    category   text        NOT NULL CHECK (category IN ('marketing', 'utility', 'authentication')),
    status     text        NOT NULL DEFAULT 'approved'
               CHECK (status IN ('approved', 'pending', 'rejected', 'paused', 'disabled')),
    components jsonb       NOT NULL,
    parameters jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name, language)
);

CREATE TABLE broadcasts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    channel_id     bigint      NOT NULL REFERENCES channels,
    template_id    bigint      NOT NULL REFERENCES templates,
    name           text        NOT NULL,
    status         text        NOT NULL DEFAULT 'scheduled'
                   CHECK (status IN ('draft', 'scheduled', 'expanding', 'running', 'paused',
                                     'completed', 'cancelled')),
    status_reason  text        NOT NULL DEFAULT '',
    audience       jsonb       NOT NULL,           -- a segment, a tag, contact ids or phones
    parameters     jsonb       NOT NULL DEFAULT '{}', -- overrides of the template's mapping
    send_at        timestamptz,                    -- an instant, or the day of a local-time send
    local_time     time,                           -- wall-clock time in each contact's zone
    send_window    jsonb,
    rate_cap       integer CHECK (rate_cap > 0),
    expires_at     timestamptz,
    expand_cursor  bigint      NOT NULL DEFAULT 0, -- last contact id expanded: resumable
    audience_count integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX broadcasts_account ON broadcasts (account_id, id);
CREATE INDEX broadcasts_due ON broadcasts (send_at) WHERE status IN ('scheduled', 'expanding');

-- rank only moves forward: pending → queued → sending → sent → delivered → read;
-- failed, skipped and unknown are side exits.
CREATE TYPE message_status AS ENUM
    ('pending', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'unknown');

-- One row per send. This table grows to hundreds of millions of rows: it stays narrow, has no
-- foreign keys (they would be checked on every insert of an expansion), and every index below
-- serves a lookup of the scheduler, the worker or the webhooks.
CREATE TABLE messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint         NOT NULL,
    channel_id    bigint         NOT NULL,
    contact_id    bigint         NOT NULL,
    template_id   bigint         NOT NULL,
    broadcast_id  bigint,
    enrollment_id bigint,
    step          smallint,
    status        message_status NOT NULL DEFAULT 'pending',
    due_at        timestamptz    NOT NULL,
    queued_at     timestamptz,
    sent_at       timestamptz,
    delivered_at  timestamptz,
    read_at       timestamptz,
    failed_at     timestamptz,
    replied_at    timestamptz,
    wamid         text,
    error_code    integer,
    reason        text,          -- why skipped or failed, a short stable code
    CHECK ((broadcast_id IS NULL) <> (enrollment_id IS NULL))
);
CREATE UNIQUE INDEX messages_broadcast_contact ON messages (broadcast_id, contact_id) WHERE broadcast_id IS NOT NULL;
CREATE UNIQUE INDEX messages_enrollment_step ON messages (enrollment_id, step) WHERE enrollment_id IS NOT NULL;
CREATE UNIQUE INDEX messages_wamid ON messages (wamid) WHERE wamid IS NOT NULL;
CREATE INDEX messages_pending_due ON messages (channel_id, due_at) WHERE status = 'pending';
-- Partial: rows enter it when sent, so expanding a broadcast does not pay for it.
CREATE INDEX messages_contact_sent ON messages (contact_id, sent_at) WHERE sent_at IS NOT NULL;

-- A sequence's definition is versioned: enrolled contacts keep the version they started with.
CREATE TABLE sequences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    channel_id bigint      NOT NULL REFERENCES channels,
    name       text        NOT NULL,
    status     text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'archived')),
    version    integer     NOT NULL DEFAULT 1,
    settings   jsonb       NOT NULL DEFAULT '{}', -- triggers, conditions, windows, exit rules
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sequences_account ON sequences (account_id, id);

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

CREATE TABLE enrollments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    sequence_id bigint      NOT NULL REFERENCES sequences ON DELETE CASCADE,
    version     integer     NOT NULL,
    contact_id  bigint      NOT NULL REFERENCES contacts ON DELETE CASCADE,
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'exited')),
    exit_reason text        NOT NULL DEFAULT '',
    next_step   smallint    NOT NULL DEFAULT 0,
    next_run_at timestamptz,
    properties  jsonb       NOT NULL DEFAULT '{}', -- the triggering event's properties
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX enrollments_due ON enrollments (next_run_at) WHERE status = 'active';
CREATE INDEX enrollments_contact ON enrollments (contact_id, sequence_id);

-- Integration events, stored before they are acknowledged; external_id dedupes redeliveries.
CREATE TABLE events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    contact_id   bigint      REFERENCES contacts ON DELETE SET NULL,
    name         text        NOT NULL,
    properties   jsonb       NOT NULL DEFAULT '{}',
    source       text        NOT NULL DEFAULT 'api',
    external_id  text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE UNIQUE INDEX events_external ON events (account_id, source, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX events_unprocessed ON events (received_at) WHERE processed_at IS NULL;

-- Append-only: written in the same transaction as the change it records.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_key_id bigint,
    actor_name  text        NOT NULL DEFAULT '',
    ip          inet,
    action      text        NOT NULL,
    target_type text        NOT NULL,
    target_id   bigint,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_account ON audit_log (account_id, id);

-- +goose StatementBegin
CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();

-- Safe casts for segment rules over free-form attributes: a value that does not parse is NULL
-- (matches nothing) instead of failing the whole query.
-- +goose StatementBegin
CREATE FUNCTION try_numeric(v text) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN v::numeric;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION try_timestamptz(v text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN v::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION try_timestamptz(text);
DROP FUNCTION try_numeric(text);
DROP TABLE audit_log;
DROP FUNCTION audit_log_immutable();
DROP TABLE events;
DROP TABLE enrollments;
DROP TABLE sequence_steps;
DROP TABLE sequences;
DROP TABLE messages;
DROP TYPE message_status;
DROP TABLE broadcasts;
DROP TABLE templates;
DROP TABLE segments;
DROP TABLE consent_events;
DROP TABLE contacts;
DROP TABLE channels;
DROP TABLE portfolios;
DROP TABLE api_keys;
DROP TABLE accounts;
