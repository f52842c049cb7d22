-- +goose Up
-- Meta's quality score of a template (message_template_quality_update): UNKNOWN until Meta rates it.
ALTER TABLE templates ADD COLUMN quality_score text NOT NULL DEFAULT 'UNKNOWN'
    CHECK (quality_score IN ('GREEN', 'YELLOW', 'RED', 'UNKNOWN'));

-- +goose Down
ALTER TABLE templates DROP COLUMN quality_score;
