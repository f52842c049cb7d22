-- +goose Up
-- A running broadcast whose only unsent messages are held by the portfolio's messaging tier
-- (pending with reason 'tier') waits for the tier: until when the next of them is due. The
-- scheduler's tier-wait job sets it and clears it.
ALTER TABLE broadcasts ADD COLUMN tier_wait_until timestamptz;

-- +goose Down
ALTER TABLE broadcasts DROP COLUMN tier_wait_until;
