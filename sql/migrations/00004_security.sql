-- +goose Up
-- Callers an account accepts: single addresses and CIDR ranges; empty accepts any address.
ALTER TABLE accounts ADD COLUMN allowed_ips cidr[] NOT NULL DEFAULT '{}';
-- The audit log is read newest first, filtered by action, target or key.
CREATE INDEX audit_log_target ON audit_log (account_id, target_type, target_id, id);

-- +goose Down
DROP INDEX audit_log_target;
ALTER TABLE accounts DROP COLUMN allowed_ips;
