-- name: CreateTemplate :one
INSERT INTO templates (account_id, name, language, category, status, components, parameters)
VALUES (@account_id, @name, @language, @category, @status, @components, @parameters)
RETURNING *;

-- name: GetTemplate :one
SELECT * FROM templates WHERE account_id = @account_id AND id = @id;

-- name: ListTemplates :many
SELECT * FROM templates WHERE account_id = @account_id AND id > @after ORDER BY id LIMIT @lim;

-- name: UpdateTemplate :one
UPDATE templates SET name = @name, language = @language, category = @category, status = @status,
    components = @components, parameters = @parameters, updated_at = now()
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
