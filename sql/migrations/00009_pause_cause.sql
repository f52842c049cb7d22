-- +goose Up
-- Why a broadcast or a sequence paused, as a cause code: resuming matches on it (Meta approving a
-- template resumes only what that template's pause paused), so the reason people read may change
-- wording freely. NULL unless paused.
ALTER TABLE broadcasts ADD COLUMN pause_cause text CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error',
    'failure_rate', 'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending'));
ALTER TABLE sequences ADD COLUMN pause_cause text CHECK (pause_cause IN ('user', 'quality_red', 'channel', 'meta_error',
    'failure_rate', 'opt_out_rate', 'template_paused', 'template_disabled', 'template_rejected', 'template_pending'));

-- Campaigns paused before: their cause, read once from the reason they were given.
-- +goose StatementBegin
CREATE FUNCTION pg_temp.cause_of(reason text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN reason LIKE 'paused automatically: template disabled%' THEN 'template_disabled'
        WHEN reason LIKE 'paused automatically: template rejected%' THEN 'template_rejected'
        WHEN reason LIKE 'paused automatically: template pending%' THEN 'template_pending'
        WHEN reason LIKE 'paused automatically: template%' THEN 'template_paused'
        WHEN reason LIKE 'paused automatically: quality%' THEN 'quality_red'
        WHEN reason LIKE 'paused automatically: channel%' THEN 'channel'
        WHEN reason LIKE 'paused automatically: meta_error%' THEN 'meta_error'
        WHEN reason LIKE 'paused automatically:%sends failed%' THEN 'failure_rate'
        WHEN reason LIKE 'paused automatically:%opted out%' THEN 'opt_out_rate'
        ELSE 'user'
    END
$$;
-- +goose StatementEnd
UPDATE broadcasts SET pause_cause = pg_temp.cause_of(status_reason) WHERE status = 'paused';
UPDATE sequences SET pause_cause = pg_temp.cause_of(status_reason) WHERE status = 'paused';

-- +goose Down
ALTER TABLE sequences DROP COLUMN pause_cause;
ALTER TABLE broadcasts DROP COLUMN pause_cause;
