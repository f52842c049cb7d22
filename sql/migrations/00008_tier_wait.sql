-- +goose Up
-- A running broadcast whose only unsent messages are held by the portfolio's messaging tier
-- (pending with reason 'tier') waits for the tier: until when the next of them is due. The
-- scheduler's tier-wait job sets it and clears it.
ALTER TABLE broadcasts ADD COLUMN tier_wait_until timestamptz;
-- The held messages, for that job (a broadcast's other pending messages can be many).
CREATE INDEX messages_tier_held ON messages (channel_id, id) INCLUDE (broadcast_id, due_at) WHERE status = 'pending' AND reason = 'tier';

-- +goose Down
DROP INDEX messages_tier_held;
ALTER TABLE broadcasts DROP COLUMN tier_wait_until;
