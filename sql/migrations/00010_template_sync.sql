-- +goose Up
-- Templates synced from a WABA (GET /{waba-id}/message_templates): which WABA they came from, a
-- note of the parameters that need a source after Meta's text changed, and the status of one Meta
-- no longer lists (kept, never deleted: campaigns may use it).
ALTER TABLE templates ADD COLUMN waba_id text, ADD COLUMN mapping_note text NOT NULL DEFAULT '';
-- Set when Meta's webhook names a template the account does not have yet: the scheduler syncs
-- that WABA within a minute rather than at its next 15-minute round.
ALTER TABLE channels ADD COLUMN templates_wanted_at timestamptz;
ALTER TABLE templates DROP CONSTRAINT templates_status_check,
    ADD CONSTRAINT templates_status_check CHECK (status IN ('approved', 'pending', 'rejected', 'paused', 'disabled', 'deleted_on_meta'));
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_pause_cause_check,
    ADD CONSTRAINT broadcasts_pause_cause_check CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error', 'failure_rate',
        'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending', 'template_deleted_on_meta'));
ALTER TABLE sequences DROP CONSTRAINT sequences_pause_cause_check,
    ADD CONSTRAINT sequences_pause_cause_check CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error', 'failure_rate',
        'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending', 'template_deleted_on_meta'));

-- +goose Down
UPDATE broadcasts SET pause_cause = 'template_disabled' WHERE pause_cause = 'template_deleted_on_meta';
UPDATE sequences SET pause_cause = 'template_disabled' WHERE pause_cause = 'template_deleted_on_meta';
UPDATE templates SET status = 'disabled' WHERE status = 'deleted_on_meta';
ALTER TABLE sequences DROP CONSTRAINT sequences_pause_cause_check,
    ADD CONSTRAINT sequences_pause_cause_check CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error', 'failure_rate',
        'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending'));
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_pause_cause_check,
    ADD CONSTRAINT broadcasts_pause_cause_check CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error', 'failure_rate',
        'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending'));
ALTER TABLE templates DROP CONSTRAINT templates_status_check,
    ADD CONSTRAINT templates_status_check CHECK (status IN ('approved', 'pending', 'rejected', 'paused', 'disabled'));
ALTER TABLE channels DROP COLUMN templates_wanted_at;
ALTER TABLE templates DROP COLUMN waba_id, DROP COLUMN mapping_note;
