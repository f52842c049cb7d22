-- +goose Up
-- A channel's use of Meta's Marketing Messages API (MM Lite) for its marketing templates: off; on
-- (the user turned it on); refused (Meta refused the number for it, say the business has not
-- accepted its terms: marketing templates go through Cloud API's /messages until the user turns
-- it on again). marketing_messages_note says why it was refused; _at when the state last changed.
ALTER TABLE channels ADD COLUMN marketing_messages text NOT NULL DEFAULT 'off'
        CHECK (marketing_messages IN ('off', 'on', 'refused')),
    ADD COLUMN marketing_messages_note text NOT NULL DEFAULT '',
    ADD COLUMN marketing_messages_at timestamptz;

-- The path a sent message took: 'marketing_messages' (Meta's Marketing Messages API) or
-- 'messages' (Cloud API). NULL until sent, and for messages sent before this column.
ALTER TABLE messages ADD COLUMN delivery_path text;
GRANT SELECT (delivery_path) ON messages TO dripcast_readonly;

-- Meta prices a marketing template sent through the Marketing Messages API as marketing_lite.
ALTER TABLE prices DROP CONSTRAINT prices_category_check,
    ADD CONSTRAINT prices_category_check CHECK (category IN ('marketing', 'marketing_lite', 'utility', 'authentication', 'service'));

-- +goose Down
DELETE FROM prices WHERE category = 'marketing_lite';
ALTER TABLE prices DROP CONSTRAINT prices_category_check,
    ADD CONSTRAINT prices_category_check CHECK (category IN ('marketing', 'utility', 'authentication', 'service'));
ALTER TABLE messages DROP COLUMN delivery_path;
ALTER TABLE channels DROP COLUMN marketing_messages, DROP COLUMN marketing_messages_note, DROP COLUMN marketing_messages_at;
