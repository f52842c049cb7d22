-- Upserts a batch of contacts given as a JSON array of objects. A key that is absent (or an empty
-- string) keeps the stored value, tags are added to the stored ones, attributes are merged, and
-- a change of opt-in is recorded in consent_events. derived_time_zone (from the phone number) only
-- fills new rows. With fill, an existing contact only gains what it lacks (an empty name or email,
-- new attribute keys, tags): no rename, no change of consent. set_by names who wrote (an API key,
-- an integration) in consent_events. The caller dedupes phones within a batch; a phone inserted concurrently by
-- another transaction comes back in neither list, and the caller upserts it again.
-- name: UpsertContacts :many
WITH input AS (
    SELECT e ->> 'phone' AS phone, e ->> 'name' AS name, e ->> 'email' AS email,
           CASE WHEN e ? 'tags' THEN ARRAY(SELECT jsonb_array_elements_text(e -> 'tags')) END AS tags,
           e -> 'attributes' AS attributes, e ->> 'country' AS country, e ->> 'time_zone' AS time_zone,
           e ->> 'derived_time_zone' AS derived_time_zone, (e ->> 'opted_in')::boolean AS opted_in,
           e ->> 'opt_in_source' AS opt_in_source
    FROM jsonb_array_elements(@rows::jsonb) AS e
), upd AS (
    UPDATE contacts AS c SET
        name = CASE WHEN @fill::boolean AND c.name <> '' THEN c.name ELSE COALESCE(NULLIF(i.name, ''), c.name) END,
        email = CASE WHEN @fill::boolean AND c.email <> '' THEN c.email ELSE COALESCE(NULLIF(i.email, ''), c.email) END,
        tags = CASE WHEN i.tags IS NULL THEN c.tags
                    ELSE ARRAY(SELECT DISTINCT t FROM unnest(c.tags || i.tags) AS t ORDER BY t) END,
        attributes = CASE WHEN @fill::boolean THEN COALESCE(i.attributes, '{}') || c.attributes
                          ELSE c.attributes || COALESCE(i.attributes, '{}') END,
        time_zone = CASE WHEN @fill::boolean THEN c.time_zone ELSE COALESCE(NULLIF(i.time_zone, ''), c.time_zone) END,
        opted_in = CASE WHEN @fill::boolean THEN c.opted_in ELSE COALESCE(i.opted_in, c.opted_in) END,
        opt_in_changed_at = CASE WHEN NOT @fill::boolean AND i.opted_in <> c.opted_in THEN now() ELSE c.opt_in_changed_at END,
        opt_in_source = CASE WHEN NOT @fill::boolean AND i.opted_in <> c.opted_in THEN COALESCE(i.opt_in_source, '')
                             ELSE c.opt_in_source END,
        updated_at = now()
    FROM input i
    WHERE c.account_id = @account_id::bigint AND c.phone = i.phone
    RETURNING c.id, c.phone, false AS inserted, c.opted_in, c.opt_in_changed_at, c.opt_in_source
), ins AS (
    INSERT INTO contacts (account_id, phone, name, email, tags, attributes, country,
                          time_zone, opted_in, opt_in_changed_at, opt_in_source)
    SELECT @account_id::bigint, i.phone, COALESCE(i.name, ''), COALESCE(i.email, ''),
           COALESCE(i.tags, '{}'), COALESCE(i.attributes, '{}'), COALESCE(i.country, ''),
           COALESCE(NULLIF(i.time_zone, ''), i.derived_time_zone, 'UTC'),
           COALESCE(i.opted_in, false),
           CASE WHEN i.opted_in IS NOT NULL THEN now() END,
           CASE WHEN i.opted_in IS NOT NULL THEN COALESCE(i.opt_in_source, '') ELSE '' END
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.phone = i.phone)
    ON CONFLICT (account_id, phone) DO NOTHING
    RETURNING id, phone, true AS inserted, opted_in, opt_in_changed_at, opt_in_source
), consent AS (
    INSERT INTO consent_events (account_id, contact_id, opted_in, source, set_by)
    SELECT @account_id::bigint, x.id, x.opted_in, x.opt_in_source, @set_by::text
    FROM (SELECT upd.id, upd.opted_in, upd.opt_in_changed_at, upd.opt_in_source FROM upd
          UNION ALL
          SELECT ins.id, ins.opted_in, ins.opt_in_changed_at, ins.opt_in_source FROM ins) AS x
    WHERE x.opt_in_changed_at = now()
)
SELECT upd.id, upd.phone, upd.inserted FROM upd
UNION ALL
SELECT ins.id, ins.phone, ins.inserted FROM ins;

-- name: GetContact :one
SELECT * FROM contacts WHERE account_id = @account_id AND id = @id;

-- name: GetContactByPhone :one
SELECT * FROM contacts WHERE account_id = @account_id AND phone = @phone;

-- A field left NULL keeps its value; attributes are merged and a key set to null is removed.
-- name: UpdateContact :one
UPDATE contacts SET
    name = COALESCE(sqlc.narg(name), name),
    email = COALESCE(sqlc.narg(email), email),
    tags = COALESCE(sqlc.narg(tags)::text[], tags),
    attributes = CASE WHEN sqlc.narg(attributes)::jsonb IS NULL THEN attributes
                      ELSE jsonb_strip_nulls(attributes || sqlc.narg(attributes)::jsonb) END,
    time_zone = COALESCE(sqlc.narg(time_zone), time_zone),
    updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: DeleteContact :execrows
DELETE FROM contacts WHERE account_id = @account_id AND id = @id;

-- Sets marketing consent; a change is recorded with its source in consent_events.
-- name: SetContactOptIn :one
WITH changed AS (
    UPDATE contacts SET opted_in = @opted_in::boolean, opt_in_changed_at = now(),
                        opt_in_source = @source::text, updated_at = now()
    WHERE account_id = @account_id::bigint AND id = @id::bigint AND opted_in <> @opted_in::boolean
    RETURNING contacts.id, contacts.account_id
), consent AS (
    INSERT INTO consent_events (account_id, contact_id, opted_in, source, set_by)
    SELECT changed.account_id, changed.id, @opted_in::boolean, @source::text, @set_by::text FROM changed
)
SELECT count(*) FROM changed;

-- name: ListConsentEvents :many
SELECT opted_in, source, set_by, at FROM consent_events
WHERE account_id = @account_id AND contact_id = @contact_id
ORDER BY at DESC, id DESC
LIMIT 50;

-- A contact's latest messages with their campaign (contact_message_ids finds them).
-- name: ContactMessages :many
SELECT m.id, m.status, COALESCE(m.reason, '') AS reason, COALESCE(m.error_code, 0)::int AS error_code, m.due_at,
       m.sent_at, m.delivered_at, m.read_at, m.failed_at, m.replied_at, t.name AS template_name,
       m.broadcast_id, e.sequence_id, COALESCE(b.name, s.name, '')::text AS campaign
FROM contact_message_ids(@account_id::bigint, @contact_id::bigint) AS mine(id)
JOIN messages m ON m.id = mine.id
JOIN templates t ON t.id = m.template_id
LEFT JOIN broadcasts b ON b.id = m.broadcast_id
LEFT JOIN enrollments e ON e.id = m.enrollment_id
LEFT JOIN sequences s ON s.id = e.sequence_id
ORDER BY m.id DESC
LIMIT 50;

-- name: ContactEnrollments :many
SELECT e.id, e.sequence_id, s.name AS sequence_name, e.status, e.exit_reason, e.next_step, e.next_run_at, e.enrolled_at, e.finished_at
FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
WHERE e.account_id = @account_id AND e.contact_id = @contact_id
ORDER BY e.id DESC
LIMIT 50;
