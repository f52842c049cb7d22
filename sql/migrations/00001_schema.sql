-- +goose Up
-- Dripcast's schema. Every tenant table carries account_id; every query of tenant data filters by
-- it. Campaign states are enums: a typo in a status is an error, not a row no query finds.

CREATE TABLE accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The sending policy (frequency cap, auto-pause thresholds, opt-out keywords): policy.Settings.
    settings    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Callers the account accepts: single addresses and CIDR ranges; empty accepts any address.
    allowed_ips cidr[]      NOT NULL DEFAULT '{}'
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
COMMENT ON COLUMN portfolios.tier_limit IS 'unique recipients per moving 24 h; NULL = unlimited';

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
-- Webhooks about templates and quality name a WABA; the channels of a WABA are found by it.
CREATE INDEX channels_waba ON channels (waba_id);

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

-- Every change of marketing consent, with its source, who set it (an API key, an integration,
-- Meta) and when: proof of opt-in for Meta's policy.
CREATE TABLE consent_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    contact_id bigint      NOT NULL REFERENCES contacts ON DELETE CASCADE,
    opted_in   boolean     NOT NULL,
    source     text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    set_by     text        NOT NULL DEFAULT ''
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

CREATE TYPE broadcast_status AS ENUM
    ('draft', 'scheduled', 'expanding', 'running', 'paused', 'completed', 'cancelled');

CREATE TABLE broadcasts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    channel_id     bigint      NOT NULL REFERENCES channels,
    template_id    bigint      NOT NULL REFERENCES templates,
    name           text        NOT NULL,
    status         broadcast_status NOT NULL DEFAULT 'scheduled',
    status_reason  text        NOT NULL DEFAULT '',
    audience       jsonb       NOT NULL,           -- a segment, a tag, contact ids or phones
    parameters     jsonb       NOT NULL DEFAULT '{}', -- overrides of the template's mapping
    send_at        timestamptz,                    -- an instant, or the first instant of a local-time send
    local_time     time,                           -- with local_date: that wall-clock time in each contact's zone
    send_window    jsonb,
    rate_cap       integer CHECK (rate_cap > 0),
    expires_at     timestamptz,
    expand_cursor  bigint      NOT NULL DEFAULT 0, -- last contact id expanded: resumable
    audience_count integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    retry_of       bigint REFERENCES broadcasts,   -- "retry failed" makes a broadcast of the failed
    local_date     date,
    expanded_at    timestamptz,                    -- every recipient has its message row
    -- Why it paused (policy.PauseCause). Resuming matches on it (Meta approving a template
    -- resumes only what that template's pause paused), so the reason people read may change
    -- wording freely. NULL unless paused.
    pause_cause    text CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error', 'failure_rate',
        'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending'))
);
CREATE INDEX broadcasts_account ON broadcasts (account_id, id);
CREATE INDEX broadcasts_due ON broadcasts (send_at) WHERE status IN ('scheduled', 'expanding');
CREATE INDEX broadcasts_started_at ON broadcasts (account_id, started_at);

-- rank only moves forward: pending → queued → sending → sent → delivered → read;
-- failed, skipped and unknown are side exits.
CREATE TYPE message_status AS ENUM
    ('pending', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped', 'unknown');

-- One row per send. This table grows to hundreds of millions of rows: it stays narrow, has no
-- foreign keys (they would be checked on every insert of an expansion), and every index below
-- serves a lookup of the scheduler, the worker, the webhooks, the reports or the dashboards.
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
    sending_at    timestamptz,   -- claimed by a worker: stuck rows are found by it
    attempts      smallint       NOT NULL DEFAULT 0,
    opted_out_at  timestamptz,   -- the recipient opted out in answer to it
    -- What a drip step's send needs beyond the template: the step's parameter overrides and the
    -- triggering event's properties. NULL for broadcast messages, which read their broadcast's.
    context       jsonb,
    CHECK ((broadcast_id IS NULL) <> (enrollment_id IS NULL))
);
CREATE UNIQUE INDEX messages_wamid ON messages (wamid) WHERE wamid IS NOT NULL;
CREATE INDEX messages_pending_due ON messages (channel_id, due_at) WHERE status = 'pending';
-- The feeder queues due drip steps before broadcast messages: an order confirmation must not wait
-- behind a million-recipient sale.
CREATE INDEX messages_pending_steps ON messages (channel_id, due_at) WHERE status = 'pending' AND enrollment_id IS NOT NULL;
-- Recovery finds rows that stayed queued or sending too long.
CREATE INDEX messages_in_flight ON messages (status, queued_at) WHERE status IN ('queued', 'sending');
-- Partial: rows enter it when sent, so expanding a broadcast does not pay for it.
CREATE INDEX messages_contact_sent ON messages (contact_id, sent_at) WHERE sent_at IS NOT NULL;
-- Funnels (the broadcast report, the dashboards' broadcast and step funnels) read these alone.
CREATE UNIQUE INDEX messages_broadcast_contact ON messages (broadcast_id, contact_id) WHERE broadcast_id IS NOT NULL;
CREATE INDEX messages_broadcast_status ON messages (broadcast_id, status) INCLUDE (reason, error_code, sent_at, replied_at)
    WHERE broadcast_id IS NOT NULL;
CREATE UNIQUE INDEX messages_enrollment_step ON messages (enrollment_id, step) INCLUDE (status, reason, error_code, sent_at, replied_at)
    WHERE enrollment_id IS NOT NULL;
-- The dashboards' event-time indexes carry the account and channel the panels filter by, so a
-- minute-by-minute count reads the index alone; rows enter them when the event happens.
CREATE INDEX messages_sent_at ON messages (account_id, sent_at) INCLUDE (channel_id) WHERE sent_at IS NOT NULL;
CREATE INDEX messages_delivered_at ON messages (account_id, delivered_at) INCLUDE (channel_id) WHERE delivered_at IS NOT NULL;
CREATE INDEX messages_read_at ON messages (account_id, read_at) INCLUDE (channel_id) WHERE read_at IS NOT NULL;
CREATE INDEX messages_failed_at ON messages (account_id, failed_at) INCLUDE (channel_id) WHERE failed_at IS NOT NULL;
CREATE INDEX messages_replied_at ON messages (account_id, replied_at) INCLUDE (channel_id) WHERE replied_at IS NOT NULL;
CREATE INDEX messages_opted_out_at ON messages (account_id, opted_out_at) INCLUDE (channel_id) WHERE opted_out_at IS NOT NULL;

CREATE TYPE sequence_status AS ENUM ('draft', 'active', 'paused', 'archived');

-- A sequence's definition (trigger, conditions, exits, windows, steps) lives in its versions, as
-- JSON: an edit of a running sequence adds a version and enrolled contacts keep theirs.
CREATE TABLE sequences (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    channel_id    bigint      NOT NULL REFERENCES channels,
    name          text        NOT NULL,
    status        sequence_status NOT NULL DEFAULT 'draft',
    version       integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    trigger_event text        NOT NULL DEFAULT '', -- of the current version; '' = manual only
    status_reason text        NOT NULL DEFAULT '',
    paused_at     timestamptz,
    pause_cause   text CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error', 'failure_rate',
        'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending'))
);
CREATE INDEX sequences_account ON sequences (account_id, id);
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
CREATE TYPE enrollment_status AS ENUM ('active', 'paused', 'completed', 'exited');

CREATE TABLE enrollments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    sequence_id  bigint      NOT NULL REFERENCES sequences ON DELETE CASCADE,
    version      integer     NOT NULL,
    contact_id   bigint      NOT NULL REFERENCES contacts ON DELETE CASCADE,
    status       enrollment_status NOT NULL DEFAULT 'active',
    exit_reason  text        NOT NULL DEFAULT '',
    next_step    smallint    NOT NULL DEFAULT 0,
    next_run_at  timestamptz,
    properties   jsonb       NOT NULL DEFAULT '{}', -- the triggering event's properties
    enrolled_at  timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    exit_detail  text        NOT NULL DEFAULT '',
    last_step_at timestamptz, -- when the latest step ran: delays "after the previous step" count from it
    event_id     bigint       -- the event that enrolled the contact; NULL when enrolled by hand
);
CREATE INDEX enrollments_due ON enrollments (next_run_at) WHERE status = 'active';
CREATE INDEX enrollments_contact ON enrollments (contact_id, sequence_id);
-- One open enrollment per contact and sequence, whatever races between events and the API.
CREATE UNIQUE INDEX enrollments_open ON enrollments (sequence_id, contact_id) WHERE status IN ('active', 'paused');
CREATE INDEX enrollments_sequence ON enrollments (sequence_id, id);
CREATE INDEX enrollments_enrolled_at ON enrollments (account_id, enrolled_at);

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
    processed_at timestamptz,
    error        text        NOT NULL DEFAULT '',
    attempts     integer     NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX events_external ON events (account_id, source, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX events_unprocessed ON events (received_at) WHERE processed_at IS NULL;

-- An inbound integration: a URL (/hooks/{token}) with its own signing secret. Its events only
-- create contacts and fill empty fields unless overwrite_contacts is set.
CREATE TABLE integrations (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id         bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    name               text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('generic', 'shopify')),
    token              text        NOT NULL UNIQUE,
    secret_enc         bytea       NOT NULL,
    mapping            jsonb       NOT NULL DEFAULT '{}',
    default_country    text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    overwrite_contacts boolean     NOT NULL DEFAULT false
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

-- Append-only: written in the same transaction as the change it records.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_key_id bigint,
    actor_name   text        NOT NULL DEFAULT '',
    ip           inet,
    action       text        NOT NULL,
    target_type  text        NOT NULL,
    target_id    bigint,
    before       jsonb,
    after        jsonb
);
CREATE INDEX audit_log_account ON audit_log (account_id, id);
-- The audit log is read newest first, filtered by action, target or key.
CREATE INDEX audit_log_target ON audit_log (account_id, target_type, target_id, id);

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

-- Send windows: allowed ISO days of the week (1 = Monday) and hours, in a contact's time zone,
-- as {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "21:00"}.
-- +goose StatementBegin
CREATE FUNCTION in_send_window(ts timestamptz, tz text, w jsonb) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    local timestamp := ts AT TIME ZONE tz;
BEGIN
    RETURN (w -> 'days' IS NULL OR w -> 'days' @> to_jsonb(extract(isodow FROM local)::int))
       AND local::time >= (w ->> 'start')::time AND local::time < (w ->> 'end')::time;
END;
$$;
-- +goose StatementEnd

-- The first instant at or after ts inside the window, in the zone tz.
-- +goose StatementBegin
CREATE FUNCTION next_send_window(ts timestamptz, tz text, w jsonb) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    first_day date := (ts AT TIME ZONE tz)::date;
    opens timestamptz;
BEGIN
    IF in_send_window(ts, tz, w) THEN
        RETURN ts;
    END IF;
    FOR i IN 0..7 LOOP
        IF w -> 'days' IS NULL OR w -> 'days' @> to_jsonb(extract(isodow FROM first_day + i)::int) THEN
            opens := ((first_day + i) + (w ->> 'start')::time) AT TIME ZONE tz;
            IF opens >= ts THEN
                RETURN opens;
            END IF;
        END IF;
    END LOOP;
    RETURN ts;
END;
$$;
-- +goose StatementEnd

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

-- The Grafana dashboards' role reads campaign data, never a secret nor personal data (a phone
-- number, a name, an enrollment's properties, a message's rendering context, a broadcast's
-- audience). The role is cluster-wide; the deployment makes a login role that is a member of it
-- (see deploy/postgres-init.sh).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dripcast_readonly') THEN
        CREATE ROLE dripcast_readonly NOLOGIN;
    END IF;
END
$$;
-- +goose StatementEnd
GRANT USAGE ON SCHEMA public TO dripcast_readonly;
GRANT SELECT ON sequences, sequence_versions TO dripcast_readonly;
GRANT SELECT (id, name) ON accounts TO dripcast_readonly;
GRANT SELECT (id, account_id, portfolio_id, name, display_number, throughput_mps, quality_rating, status) ON channels TO dripcast_readonly;
GRANT SELECT (id, account_id, name, tier_limit) ON portfolios TO dripcast_readonly;
GRANT SELECT (id, account_id, name, language, category, status) ON templates TO dripcast_readonly;
GRANT SELECT (id, account_id, opted_in, country, time_zone, created_at) ON contacts TO dripcast_readonly;
GRANT SELECT (id, account_id, channel_id, contact_id, template_id, broadcast_id, enrollment_id, step, status, due_at,
              queued_at, sent_at, delivered_at, read_at, failed_at, replied_at, wamid, error_code, reason, sending_at,
              attempts, opted_out_at) ON messages TO dripcast_readonly;
GRANT SELECT (id, account_id, channel_id, template_id, name, status, status_reason, send_at, local_time, local_date,
              send_window, rate_cap, expires_at, audience_count, created_at, updated_at, started_at, finished_at,
              retry_of, expanded_at, pause_cause) ON broadcasts TO dripcast_readonly;
GRANT SELECT (id, account_id, sequence_id, version, contact_id, status, exit_reason, next_step, next_run_at,
              enrolled_at, finished_at, last_step_at, event_id) ON enrollments TO dripcast_readonly;

-- +goose Down
-- The role stays: other databases of the cluster may use it.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dripcast_readonly;
REVOKE USAGE ON SCHEMA public FROM dripcast_readonly;
DROP FUNCTION message_may_send(bigint, bigint);
DROP FUNCTION next_send_window(timestamptz, text, jsonb);
DROP FUNCTION in_send_window(timestamptz, text, jsonb);
DROP FUNCTION message_rank(message_status);
DROP FUNCTION try_timestamptz(text);
DROP FUNCTION try_numeric(text);
DROP TABLE audit_log;
DROP FUNCTION audit_log_immutable();
DROP TABLE integration_deliveries;
DROP TABLE integrations;
DROP TABLE events;
DROP TABLE enrollments;
DROP TYPE enrollment_status;
DROP TABLE sequence_versions;
DROP TABLE sequences;
DROP TYPE sequence_status;
DROP TABLE messages;
DROP TYPE message_status;
DROP TABLE broadcasts;
DROP TYPE broadcast_status;
DROP TABLE templates;
DROP TABLE segments;
DROP TABLE consent_events;
DROP TABLE contacts;
DROP TABLE channels;
DROP TABLE portfolios;
DROP TABLE api_keys;
DROP TABLE accounts;
