-- name: CreateTemplate :one
INSERT INTO templates (account_id, name, language, category, status, components, parameters)
VALUES (@account_id, @name, @language, @category, @status, @components, @parameters)
RETURNING *;

-- name: GetTemplate :one
SELECT * FROM templates WHERE account_id = @account_id AND id = @id;

-- name: ListTemplates :many
SELECT * FROM templates WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- Every placeholder has a source once a template is saved through the API or the console.
-- name: UpdateTemplate :one
UPDATE templates SET name = @name, language = @language, category = @category, status = @status,
    components = @components, parameters = @parameters, mapping_note = '', updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: DeleteTemplate :execrows
DELETE FROM templates WHERE account_id = @account_id AND id = @id;

-- What Meta said of a template, newest first.
-- name: TemplateHistory :many
SELECT event, detail, at FROM template_events
WHERE account_id = @account_id AND template_id = @template_id
ORDER BY at DESC, id DESC
LIMIT @lim;

-- name: TemplateByName :one
SELECT * FROM templates WHERE account_id = @account_id AND name = @name AND language = @language;

-- A template as Meta lists it in its WABA (sync): its text, status, category, quality and the
-- parameter sources kept.
-- name: SyncTemplate :one
UPDATE templates SET category = @category, status = @status, components = @components, parameters = @parameters,
    quality_score = @quality_score, waba_id = @waba_id, mapping_note = @mapping_note, updated_at = now()
WHERE account_id = @account_id AND id = @id
RETURNING *;

-- name: CreateSyncedTemplate :one
INSERT INTO templates (account_id, name, language, category, status, components, parameters, quality_score, waba_id, mapping_note)
VALUES (@account_id, @name, @language, @category, @status, @components, '{}', @quality_score, @waba_id, @mapping_note)
RETURNING *;

-- Templates synced from a WABA that Meta no longer lists there: kept, as deleted_on_meta.
-- name: MarkDeletedOnMeta :many
UPDATE templates SET status = 'deleted_on_meta', updated_at = now()
WHERE account_id = @account_id AND waba_id = @waba_id AND status <> 'deleted_on_meta' AND NOT (id = ANY(@listed::bigint[]))
RETURNING id, name, language;
