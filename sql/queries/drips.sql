-- name: CreateSequence :one
INSERT INTO sequences (account_id, channel_id, name, status, trigger_event)
VALUES (@account_id, @channel_id, @name, 'draft', @trigger_event)
RETURNING *;

-- name: InsertSequenceVersion :exec
INSERT INTO sequence_versions (sequence_id, version, account_id, definition)
VALUES (@sequence_id, @version, @account_id, @definition);

-- A draft is edited in place; an active or paused sequence gets a new version.
-- name: ReplaceSequenceVersion :exec
UPDATE sequence_versions SET definition = @definition
WHERE account_id = @account_id AND sequence_id = @sequence_id AND version = @version;

-- name: UpdateSequence :one
UPDATE sequences SET name = @name, channel_id = @channel_id, trigger_event = @trigger_event, version = @version,
    updated_at = now()
WHERE account_id = @account_id AND id = @id AND status <> 'archived'
RETURNING *;

-- name: GetSequence :one
SELECT s.*, v.definition FROM sequences s
JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
WHERE s.account_id = @account_id AND s.id = @id;

-- name: ListSequences :many
SELECT s.*, v.definition FROM sequences s
JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
WHERE s.account_id = @account_id AND s.id > @after
ORDER BY s.id LIMIT @lim;

-- Moves a sequence between states (not pause and resume); no row when it is in none of the given ones.
-- name: SetSequenceStatus :one
UPDATE sequences SET status = @status, status_reason = '', pause_cause = NULL, updated_at = now(), paused_at = NULL
WHERE account_id = @account_id AND id = @id AND status = ANY(@from_statuses::sequence_status[])
RETURNING *;

-- Pausing holds every waiting contact where it is, out of the due index.
-- name: PauseSequence :one
WITH s AS (
    UPDATE sequences SET status = 'paused', status_reason = @reason, pause_cause = @pause_cause, paused_at = now(), updated_at = now()
    WHERE sequences.account_id = @account_id AND sequences.id = @id AND sequences.status = 'active'
    RETURNING sequences.id
), e AS (
    UPDATE enrollments SET status = 'paused' WHERE sequence_id IN (SELECT id FROM s) AND status = 'active'
)
SELECT id FROM s;

-- Resuming moves each waiting contact's next step later by the time the sequence was paused:
-- contacts continue where they were with the delay they had left, without a burst of stale sends.
-- name: ResumeSequence :one
WITH old AS (
    SELECT sequences.id, sequences.paused_at FROM sequences
    WHERE sequences.account_id = @account_id AND sequences.id = @id AND sequences.status = 'paused'
    FOR UPDATE
), s AS (
    UPDATE sequences SET status = 'active', status_reason = '', pause_cause = NULL, paused_at = NULL, updated_at = now()
    FROM old WHERE sequences.id = old.id
    RETURNING sequences.id
), e AS (
    UPDATE enrollments en SET status = 'active', next_run_at = en.next_run_at + (now() - COALESCE(old.paused_at, now()))
    FROM old WHERE en.sequence_id = old.id AND en.status = 'paused'
)
SELECT id FROM s;

-- Archiving ends every open enrollment.
-- name: ArchiveEnrollments :many
UPDATE enrollments SET status = 'exited', exit_reason = 'archived', finished_at = now()
WHERE sequence_id = @sequence_id AND status IN ('active', 'paused')
RETURNING id;

-- Drops the unsent messages of enrollments that ended.
-- name: SkipUnsentSteps :exec
UPDATE messages SET status = 'skipped', reason = 'exited'
WHERE enrollment_id = ANY(@enrollment_ids::bigint[]) AND status IN ('pending', 'queued');

-- The sequences an event may start: active, on this account, triggered by its name.
-- name: SequencesForEvent :many
SELECT s.id, s.channel_id, s.version, v.definition FROM sequences s
JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
WHERE s.account_id = @account_id AND s.status = 'active' AND s.trigger_event = @event;

-- name: GetSequenceForEnrollment :one
SELECT s.id, s.channel_id, s.version, s.status, v.definition FROM sequences s
JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
WHERE s.account_id = @account_id AND s.id = @id;

-- What re-entry rules need: the contact's latest enrollment in the sequence.
-- name: LastEnrollment :one
SELECT id, status, enrolled_at FROM enrollments
WHERE sequence_id = @sequence_id AND contact_id = @contact_id
ORDER BY id DESC LIMIT 1;

-- name: Enroll :one
INSERT INTO enrollments (account_id, sequence_id, version, contact_id, next_run_at, properties, enrolled_at, event_id)
VALUES (@account_id, @sequence_id, @version, @contact_id, @next_run_at, @properties, @enrolled_at, sqlc.narg(event_id))
ON CONFLICT (sequence_id, contact_id) WHERE status IN ('active', 'paused') DO NOTHING
RETURNING id;

-- Open enrollments of a contact that an event ends, with the outcome named by the definition.
-- name: ExitOnEvent :many
WITH hit AS (
    SELECT e.id, CASE WHEN v.definition -> 'exit' -> 'success' -> 'events' ? @event::text THEN 'success' ELSE 'failure' END AS reason
    FROM enrollments e JOIN sequence_versions v ON v.sequence_id = e.sequence_id AND v.version = e.version
    WHERE e.contact_id = @contact_id::bigint AND e.status IN ('active', 'paused')
      AND (v.definition -> 'exit' -> 'success' -> 'events' ? @event::text
           OR v.definition -> 'exit' -> 'failure' -> 'events' ? @event::text)
)
UPDATE enrollments e SET status = 'exited', exit_reason = hit.reason, exit_detail = 'event ' || @event::text, finished_at = now()
FROM hit WHERE e.id = hit.id
RETURNING e.id;

-- A reply or an opt-out on a number ends the open enrollments of the contact in sequences of that
-- number whose definition exits on it (flag is on_reply or on_opt_out).
-- name: ExitOnInbound :many
UPDATE enrollments e SET status = 'exited', exit_reason = @reason::text, finished_at = now()
FROM sequences s, sequence_versions v
WHERE e.contact_id = @contact_id::bigint AND e.status IN ('active', 'paused')
  AND s.id = e.sequence_id AND s.channel_id = @channel_id::bigint
  AND v.sequence_id = e.sequence_id AND v.version = e.version
  AND COALESCE((v.definition -> 'exit' ->> @flag::text)::boolean, false)
RETURNING e.id;

-- name: ExitEnrollment :one
UPDATE enrollments SET status = 'exited', exit_reason = @reason, exit_detail = @detail, finished_at = now()
WHERE account_id = @account_id AND id = @id AND status IN ('active', 'paused')
RETURNING *;

-- Due enrollments of active sequences, earliest first, locked for this tick. The partial index
-- enrollments_due (active only) keeps this cheap however many contacts wait.
-- name: DueEnrollments :many
SELECT e.id, e.account_id, e.sequence_id, e.version, e.contact_id, e.next_step, e.next_run_at, e.enrolled_at,
       e.last_step_at, e.properties, s.channel_id, c.time_zone, c.opted_in, c.opt_in_changed_at, v.definition
FROM enrollments e
JOIN sequences s ON s.id = e.sequence_id
JOIN contacts c ON c.id = e.contact_id
JOIN sequence_versions v ON v.sequence_id = e.sequence_id AND v.version = e.version
WHERE e.status = 'active' AND e.next_run_at <= @now::timestamptz AND s.status = 'active'
ORDER BY e.next_run_at
LIMIT @lim
FOR UPDATE OF e SKIP LOCKED;

-- The categories of the templates a tick's steps send (the scheduler reads across accounts).
-- name: TemplateCategories :many
SELECT id, category FROM templates WHERE id = ANY(@ids::bigint[]);

-- The latest step message of each enrollment that was not skipped by its condition.
-- name: LastStepMessages :many
SELECT DISTINCT ON (enrollment_id) enrollment_id::bigint AS enrollment_id, step::smallint AS step, status, sent_at, delivered_at
FROM messages
WHERE enrollment_id = ANY(@enrollment_ids::bigint[]) AND COALESCE(reason, '') <> 'condition'
ORDER BY enrollment_id, step DESC;

-- Writes the step messages of a tick, given as a JSON array of objects with account_id,
-- channel_id, contact_id, template_id, enrollment_id, step, status, reason and context. A step
-- written before (a tick that died after this statement) is not written twice.
-- name: InsertStepMessages :execrows
INSERT INTO messages (account_id, channel_id, contact_id, template_id, enrollment_id, step, status, reason, due_at, context)
SELECT (e ->> 'account_id')::bigint, (e ->> 'channel_id')::bigint, (e ->> 'contact_id')::bigint,
       (e ->> 'template_id')::bigint, (e ->> 'enrollment_id')::bigint, (e ->> 'step')::smallint,
       (e ->> 'status')::message_status, NULLIF(e ->> 'reason', ''), now(), e -> 'context'
FROM jsonb_array_elements(@rows::jsonb) AS e
ON CONFLICT (enrollment_id, step) WHERE enrollment_id IS NOT NULL DO NOTHING;

-- Moves enrollments on, given as a JSON array of objects with id, status, next_step,
-- next_run_at, last_step_at, exit_reason and exit_detail.
-- name: AdvanceEnrollments :execrows
WITH s AS (
    SELECT (e ->> 'id')::bigint AS id, (e ->> 'status')::enrollment_status AS status, (e ->> 'next_step')::smallint AS next_step,
           (e ->> 'next_run_at')::timestamptz AS next_run_at, (e ->> 'last_step_at')::timestamptz AS last_step_at,
           COALESCE(e ->> 'exit_reason', '') AS exit_reason, COALESCE(e ->> 'exit_detail', '') AS exit_detail
    FROM jsonb_array_elements(@rows::jsonb) AS e
)
UPDATE enrollments en SET status = s.status, next_step = s.next_step, next_run_at = s.next_run_at,
    last_step_at = COALESCE(s.last_step_at, en.last_step_at), exit_reason = s.exit_reason, exit_detail = s.exit_detail,
    finished_at = CASE WHEN s.status IN ('completed', 'exited') THEN @now::timestamptz END
FROM s WHERE en.id = s.id AND en.status = 'active';

-- Unprocessed events, oldest first (the scheduler leader is their only reader).
-- name: PendingEvents :many
SELECT * FROM events WHERE processed_at IS NULL ORDER BY received_at, id LIMIT @lim;

-- name: FinishEvent :exec
UPDATE events SET processed_at = CASE WHEN @error::text = '' OR attempts + 1 >= 5 THEN now() END,
    attempts = attempts + 1, error = @error::text
WHERE id = @id;

-- name: InsertEvent :one
INSERT INTO events (account_id, contact_id, name, properties, source, external_id)
VALUES (@account_id, @contact_id, @name, @properties, @source, sqlc.narg(external_id))
ON CONFLICT (account_id, source, external_id) WHERE external_id IS NOT NULL DO NOTHING
RETURNING id;

-- name: EventByExternalID :one
SELECT id FROM events WHERE account_id = @account_id AND source = @source AND external_id = @external_id;

-- Whether any active sequence of the account starts on one of the events.
-- name: SequencesListenFor :one
SELECT EXISTS (SELECT 1 FROM sequences WHERE account_id = @account_id AND status = 'active'
               AND trigger_event = ANY(@events::text[]))::boolean;

-- name: ContactZone :one
SELECT time_zone FROM contacts WHERE account_id = @account_id AND id = @id;

-- name: GetEnrollment :one
SELECT * FROM enrollments WHERE account_id = @account_id AND id = @id;

-- name: ListEnrollments :many
SELECT sqlc.embed(e), c.phone FROM enrollments e JOIN contacts c ON c.id = e.contact_id
WHERE e.account_id = @account_id AND e.sequence_id = @sequence_id AND e.id > @after
  AND (sqlc.narg(status)::enrollment_status IS NULL OR e.status = sqlc.narg(status)::enrollment_status)
ORDER BY e.id LIMIT @lim;

-- name: EnrollmentSteps :many
SELECT step, status, COALESCE(reason, '') AS reason, COALESCE(error_code, 0)::int AS error_code, wamid, template_id,
       due_at, sent_at, delivered_at, read_at, failed_at, replied_at
FROM messages WHERE account_id = @account_id AND enrollment_id = @enrollment_id
ORDER BY step;

-- name: SequenceEnrollmentCounts :many
SELECT status, exit_reason, count(*)::bigint AS n FROM enrollments
WHERE account_id = @account_id AND sequence_id = @sequence_id
GROUP BY 1, 2;

-- The funnel of each step, in the shape of a broadcast's.
-- name: SequenceStepFunnel :many
SELECT m.step::int AS step, m.status, COALESCE(m.reason, '') AS reason, COALESCE(m.error_code, 0)::int AS error_code,
       COALESCE(m.settled::text, '')::text AS settled, count(*) AS n, count(m.replied_at) AS replied, count(m.sent_at) AS with_sent
FROM enrollments e JOIN messages m ON m.enrollment_id = e.id
WHERE e.account_id = @account_id AND e.sequence_id = @sequence_id
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1;

-- name: GetSequenceVersion :one
SELECT definition FROM sequence_versions WHERE account_id = @account_id AND sequence_id = @sequence_id AND version = @version;

-- A template that a sequence version names is in use.
-- name: TemplateInSequence :one
SELECT EXISTS (SELECT 1 FROM sequence_versions v JOIN sequences s ON s.id = v.sequence_id
               WHERE v.account_id = @account_id AND s.status <> 'archived'
                 AND v.definition -> 'steps' @> jsonb_build_array(jsonb_build_object('template_id', @template_id::bigint)))::boolean;

-- A template Meta paused pauses the sequences whose current version sends it.
-- name: ActiveSequencesOfTemplate :many
SELECT s.id, s.account_id FROM sequences s
JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
WHERE s.status = 'active'
  AND v.definition -> 'steps' @> jsonb_build_array(jsonb_build_object('template_id', @template_id::bigint));

-- name: PausedSequencesOfTemplate :many
SELECT s.id, s.account_id FROM sequences s
JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
WHERE s.status = 'paused' AND s.pause_cause = ANY(@causes::text[])
  AND v.definition -> 'steps' @> jsonb_build_array(jsonb_build_object('template_id', @template_id::bigint));
