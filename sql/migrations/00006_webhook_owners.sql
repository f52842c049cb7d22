-- +goose Up
-- Webhooks about templates and quality name a WABA; the channels of a WABA are found by it.
CREATE INDEX channels_waba ON channels (waba_id);

-- +goose Down
DROP INDEX channels_waba;
