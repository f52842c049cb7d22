-- +goose Up
-- Who set each consent change (an API key, an integration, Meta) beside the source it names; and
-- whether an integration's events may overwrite the contacts they name (by default they only
-- create contacts and fill empty fields).
ALTER TABLE consent_events ADD COLUMN set_by text NOT NULL DEFAULT '';
ALTER TABLE integrations ADD COLUMN overwrite_contacts boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE integrations DROP COLUMN overwrite_contacts;
ALTER TABLE consent_events DROP COLUMN set_by;
