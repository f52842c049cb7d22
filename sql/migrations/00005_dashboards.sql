-- +goose Up
-- What the Grafana dashboards read: a read-only role for their Postgres data source, and the
-- indexes their panels need (partial: rows enter them when the event happens, so expanding a
-- broadcast does not pay for them).

-- The role is cluster-wide; the deployment makes a login role that is a member of it (see
-- deploy/postgres-init.sql). It reads campaign data and never a secret, a phone number or a name.
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
GRANT SELECT ON messages, broadcasts, sequences, sequence_versions, enrollments TO dripcast_readonly;
GRANT SELECT (id, name) ON accounts TO dripcast_readonly;
GRANT SELECT (id, account_id, portfolio_id, name, display_number, throughput_mps, quality_rating, status) ON channels TO dripcast_readonly;
GRANT SELECT (id, account_id, name, tier_limit) ON portfolios TO dripcast_readonly;
GRANT SELECT (id, account_id, name, language, category, status) ON templates TO dripcast_readonly;
GRANT SELECT (id, account_id, opted_in, country, time_zone, created_at) ON contacts TO dripcast_readonly;

-- Each event-time index carries the account and channel the panels filter by, so a minute-by-minute
-- count reads the index alone.
CREATE INDEX messages_sent_at ON messages (account_id, sent_at) INCLUDE (channel_id) WHERE sent_at IS NOT NULL;
CREATE INDEX messages_delivered_at ON messages (account_id, delivered_at) INCLUDE (channel_id) WHERE delivered_at IS NOT NULL;
CREATE INDEX messages_read_at ON messages (account_id, read_at) INCLUDE (channel_id) WHERE read_at IS NOT NULL;
CREATE INDEX messages_failed_at ON messages (account_id, failed_at) INCLUDE (channel_id) WHERE failed_at IS NOT NULL;
CREATE INDEX messages_replied_at ON messages (account_id, replied_at) INCLUDE (channel_id) WHERE replied_at IS NOT NULL;
CREATE INDEX messages_opted_out_at ON messages (account_id, opted_out_at) INCLUDE (channel_id) WHERE opted_out_at IS NOT NULL;
-- Funnels (the broadcast report, the dashboards' broadcast and step funnels) read these alone too.
DROP INDEX messages_broadcast_status;
CREATE INDEX messages_broadcast_status ON messages (broadcast_id, status) INCLUDE (reason, error_code, sent_at, replied_at)
    WHERE broadcast_id IS NOT NULL;
DROP INDEX messages_enrollment_step;
CREATE UNIQUE INDEX messages_enrollment_step ON messages (enrollment_id, step) INCLUDE (status, reason, error_code, sent_at, replied_at)
    WHERE enrollment_id IS NOT NULL;
CREATE INDEX enrollments_enrolled_at ON enrollments (account_id, enrolled_at);
CREATE INDEX broadcasts_started_at ON broadcasts (account_id, started_at);

-- +goose Down
DROP INDEX messages_enrollment_step;
CREATE UNIQUE INDEX messages_enrollment_step ON messages (enrollment_id, step) WHERE enrollment_id IS NOT NULL;
DROP INDEX messages_broadcast_status;
CREATE INDEX messages_broadcast_status ON messages (broadcast_id, status) WHERE broadcast_id IS NOT NULL;
DROP INDEX broadcasts_started_at;
DROP INDEX enrollments_enrolled_at;
DROP INDEX messages_opted_out_at;
DROP INDEX messages_replied_at;
DROP INDEX messages_failed_at;
DROP INDEX messages_read_at;
DROP INDEX messages_delivered_at;
DROP INDEX messages_sent_at;
-- The role stays: other databases of the cluster may use it.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dripcast_readonly;
REVOKE USAGE ON SCHEMA public FROM dripcast_readonly;
