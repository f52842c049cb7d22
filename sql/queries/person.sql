-- One person's data (GDPR, DPDP): everything Dripcast holds about them, for an export; and its
-- erasure, which removes the personal data wherever Dripcast keeps it and keeps the rows that
-- counts and funnels are made of. "Holds" below is a text search of a row's JSON for the person's
-- number (its digits, as in E.164 without the + and in Meta's payloads) or email.

-- name: ExportMessages :many
SELECT m.id, m.broadcast_id, m.enrollment_id, m.step, t.name AS template, m.status, COALESCE(m.reason, '') AS reason,
       m.error_code, m.due_at, m.sent_at, m.delivered_at, m.read_at, m.failed_at, m.replied_at, m.opted_out_at, m.context
FROM contact_message_ids(@account_id::bigint, @contact_id::bigint) AS mine(id)
JOIN messages m ON m.id = mine.id JOIN templates t ON t.id = m.template_id
ORDER BY m.id;

-- name: ExportEnrollments :many
SELECT e.id, e.sequence_id, s.name AS sequence, e.status, e.exit_reason, e.properties, e.enrolled_at, e.finished_at
FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
WHERE e.account_id = @account_id AND e.contact_id = @contact_id
ORDER BY e.id;

-- name: ExportEvents :many
SELECT id, name, properties, source, received_at FROM events
WHERE account_id = @account_id AND contact_id = @contact_id
ORDER BY id;

-- The contact as erased: no name, number, email, tags, attributes or consent left; its phone
-- becomes 'erased:<id>', so a later import of the number makes a new contact.
-- name: EraseContact :exec
UPDATE contacts SET phone = 'erased:' || id, wa_id = '', name = '', email = '', tags = '{}', attributes = '{}', opted_in = false,
    opt_in_source = '', time_zone = 'UTC', last_inbound_at = NULL, erased_at = now(), updated_at = now()
WHERE account_id = @account_id AND id = @id;

-- Nothing more is sent to the person: unsent messages are skipped (reason erased); no message
-- keeps the parameters or event properties it carried.
-- name: EraseMessages :exec
UPDATE messages m SET context = NULL,
    status = CASE WHEN m.status IN ('pending', 'queued') THEN 'skipped' ELSE m.status END,
    reason = CASE WHEN m.status IN ('pending', 'queued') THEN 'erased' ELSE m.reason END
FROM contact_message_ids(@account_id::bigint, @contact_id::bigint) AS mine(id) WHERE m.id = mine.id;

-- The person's enrollments end (exit reason erased) and lose the event properties they carried.
-- name: EraseEnrollments :exec
UPDATE enrollments SET properties = '{}',
    status = CASE WHEN status IN ('active', 'paused') THEN 'exited' ELSE status END,
    exit_reason = CASE WHEN status IN ('active', 'paused') THEN 'erased' ELSE exit_reason END,
    finished_at = CASE WHEN status IN ('active', 'paused') THEN now() ELSE finished_at END,
    next_run_at = CASE WHEN status IN ('active', 'paused') THEN NULL ELSE next_run_at END
WHERE account_id = @account_id AND contact_id = @contact_id;

-- The person's events keep their name and time, not their properties; the integration
-- deliveries that made them, or that hold the person, keep nothing of their payload.
-- name: EraseEvents :exec
WITH erased AS (
    UPDATE events SET properties = '{}', error = ''
    WHERE account_id = @account_id AND (contact_id = @contact_id OR strpos(properties::text, @digits::text) > 0
                                        OR @email::text <> '' AND strpos(properties::text, @email::text) > 0)
    RETURNING id
)
UPDATE integration_deliveries d SET payload = '{}', error = ''
WHERE d.account_id = @account_id AND (d.event_id IN (SELECT id FROM erased) OR strpos(d.payload::text, @digits::text) > 0
                                      OR @email::text <> '' AND strpos(d.payload::text, @email::text) > 0);

-- Import reports lose the rejected rows that hold the person.
-- name: EraseImportRejects :exec
UPDATE imports SET errors = COALESCE((SELECT jsonb_agg(e) FROM jsonb_array_elements(errors) e
                                      WHERE strpos(e::text, @digits::text) = 0 AND (@email::text = '' OR strpos(e::text, @email::text) = 0)), '[]')
WHERE account_id = @account_id AND (strpos(errors::text, @digits::text) > 0 OR @email::text <> '' AND strpos(errors::text, @email::text) > 0);

-- Audit entries keep who did what to which row and when, not the person's data: an entry about
-- the contact, or holding the person, loses its before and after.
-- name: EraseAuditData :exec
UPDATE audit_log SET before = CASE WHEN before IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END,
    after = CASE WHEN after IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END
WHERE account_id = @account_id AND (target_type = 'contact' AND target_id = @contact_id
    OR strpos(COALESCE(before::text, '') || COALESCE(after::text, ''), @digits::text) > 0
    OR @email::text <> '' AND strpos(COALESCE(before::text, '') || COALESCE(after::text, ''), @email::text) > 0);

-- Broadcasts to pasted numbers (E.164, as normalized) no longer list the person's.
-- name: EraseFromAudiences :exec
UPDATE broadcasts SET audience = jsonb_set(audience, '{phones}', (audience -> 'phones') - @phone::text)
WHERE account_id = @account_id AND audience -> 'phones' ? @phone::text;

-- The account's portfolios and numbers, whose limiter state in Redis may hold the person.
-- name: AccountNumbers :many
SELECT portfolio_id, phone_number_id FROM channels WHERE account_id = @account_id ORDER BY id;

-- name: LockContact :one
SELECT * FROM contacts WHERE account_id = @account_id AND id = @id FOR UPDATE;

-- name: ExportConsent :many
SELECT opted_in, source, set_by, at FROM consent_events
WHERE account_id = @account_id AND contact_id = @contact_id
ORDER BY at, id;
