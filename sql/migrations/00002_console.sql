-- +goose Up
-- The console: people who sign in to an account, their sessions, one-time links and MFA.

-- How the console shows the account's numbers and times; require_mfa makes every user enrol TOTP.
ALTER TABLE accounts
    ADD COLUMN time_zone   text    NOT NULL DEFAULT 'UTC',
    ADD COLUMN locale      text    NOT NULL DEFAULT 'en-US',
    ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;

-- A person of one account. An email signs in to one account only, so sign-in needs no account
-- picker and cannot be pointed at another tenant.
CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    email               text        NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role                text        NOT NULL CHECK (role IN ('owner', 'admin', 'marketer', 'analyst')),
    -- argon2id in the PHC string format; NULL until the person sets one through a one-time link.
    password_hash       text,
    password_changed_at timestamptz,
    -- The TOTP secret, sealed with DRIPCAST_SECRET_KEYS; MFA is on once a code confirmed it.
    totp_secret_enc     bytea,
    totp_confirmed_at   timestamptz,
    -- The last 30-second step a code was accepted for: a code works once.
    totp_last_step      bigint      NOT NULL DEFAULT 0,
    invited_by          bigint      REFERENCES users ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_account ON users (account_id, id);

-- Ten one-time recovery codes per user with MFA; only a SHA-256 is kept (the codes are random).
CREATE TABLE recovery_codes (
    account_id bigint     NOT NULL REFERENCES accounts ON DELETE CASCADE,
    user_id   bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    code_hash bytea       NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- One-time links that set a password: the first from `dripcast admin create-user`, then invites.
CREATE TABLE user_links (
    token_hash bytea PRIMARY KEY,
    account_id bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_links_user ON user_links (user_id);

-- A signed-in browser. The cookie holds a random token; only its SHA-256 is kept. stage is
-- 'mfa' (password checked, code still due), 'enrol' (the account requires MFA the user has not
-- set up) or 'active'.
CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    account_id   bigint      NOT NULL REFERENCES accounts ON DELETE CASCADE,
    stage        text        NOT NULL CHECK (stage IN ('mfa', 'enrol', 'active')),
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ip           inet
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed sign-ins, per user ('user:<id>') and per address ('ip:<addr>'): each failure past a few
-- doubles the wait before the next attempt is even checked. Not tenant data: an address is
-- throttled whichever accounts its attempts were aimed at.
CREATE TABLE signin_throttle (
    key          text PRIMARY KEY,
    failures     int         NOT NULL DEFAULT 0,
    locked_until timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE audit_log ADD COLUMN actor_user_id bigint;

-- +goose Down
ALTER TABLE audit_log DROP COLUMN actor_user_id;
DROP TABLE signin_throttle;
DROP TABLE sessions;
DROP TABLE user_links;
DROP TABLE recovery_codes;
DROP TABLE users;
ALTER TABLE accounts DROP COLUMN time_zone, DROP COLUMN locale, DROP COLUMN require_mfa;
