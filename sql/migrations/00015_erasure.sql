-- +goose Up
-- When a contact's personal data was erased (POST /v1/contacts/{id}/erase): the row stays, with
-- phone 'erased:<id>' and nothing else of the person, so counts and funnels keep it.
ALTER TABLE contacts ADD COLUMN erased_at timestamptz;

-- A contact's messages, found through the account's broadcasts and the contact's enrollments,
-- whose indexes lead to them (messages has no index by contact alone: every send would pay).
-- +goose StatementBegin
CREATE FUNCTION contact_message_ids(account bigint, contact bigint) RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
    SELECT mb.id FROM broadcasts bb JOIN messages mb ON mb.broadcast_id = bb.id AND mb.contact_id = contact
    WHERE bb.account_id = account
    UNION ALL
    SELECT me.id FROM enrollments ee JOIN messages me ON me.enrollment_id = ee.id
    WHERE ee.account_id = account AND ee.contact_id = contact
$$;
-- +goose StatementEnd

-- The audit log stays append-only but for an erasure: it may blank an entry's data (before and
-- after become {"erased": true}) and nothing else; who did what to which row, and when, stay.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND to_jsonb(NEW) - 'before' - 'after' = to_jsonb(OLD) - 'before' - 'after'
       AND (NEW.before IS NULL OR NEW.before = '{"erased": true}'::jsonb)
       AND (NEW.after IS NULL OR NEW.after = '{"erased": true}'::jsonb) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION contact_message_ids(bigint, bigint);
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
ALTER TABLE contacts DROP COLUMN erased_at;
