-- The account ids and settings, for the retention job.
-- name: AccountsSettings :many
SELECT id, settings FROM accounts ORDER BY id;

-- A batch of an account's messages done sending, due before cutoff, lose their content (a drip
-- step's parameters and the triggering event's properties). Messages still to send keep it.
-- name: ScrubMessageContent :execrows
UPDATE messages SET context = NULL
WHERE id IN (SELECT m.id FROM messages m
             WHERE m.account_id = @account_id AND m.context IS NOT NULL AND m.due_at < @cutoff
               AND m.status NOT IN ('pending', 'queued', 'sending')
             LIMIT @lim);

-- name: ScrubEventProperties :execrows
UPDATE events SET properties = '{}'
WHERE id IN (SELECT e.id FROM events e
             WHERE e.account_id = @account_id AND e.properties <> '{}' AND e.received_at < @cutoff
               AND e.processed_at IS NOT NULL
             LIMIT @lim);

-- name: ScrubDeliveryPayloads :execrows
UPDATE integration_deliveries SET payload = '{}'
WHERE id IN (SELECT d.id FROM integration_deliveries d
             WHERE d.account_id = @account_id AND d.payload <> '{}' AND d.received_at < @cutoff
               AND d.processed_at IS NOT NULL
             LIMIT @lim);

-- Enrollments that ended before cutoff (an active one's later steps still need the properties).
-- name: ScrubEnrollmentProperties :execrows
UPDATE enrollments SET properties = '{}'
WHERE id IN (SELECT n.id FROM enrollments n
             WHERE n.account_id = @account_id AND n.properties <> '{}' AND n.finished_at < @cutoff
               AND n.finished_at IS NOT NULL
             LIMIT @lim);
