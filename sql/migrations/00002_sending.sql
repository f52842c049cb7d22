-- +goose Up
-- What sending needs: the worker's timestamps and attempt count on messages, the indexes of the
-- feeder, recovery and reports, and broadcast retries.

ALTER TABLE messages
    ADD COLUMN sending_at   timestamptz,          -- claimed by a worker: stuck rows are found by it
    ADD COLUMN attempts     smallint NOT NULL DEFAULT 0,
    ADD COLUMN opted_out_at timestamptz;          -- the recipient opted out in answer to it

-- Reports count a broadcast's messages by status.
CREATE INDEX messages_broadcast_status ON messages (broadcast_id, status) WHERE broadcast_id IS NOT NULL;
-- Recovery finds rows that stayed queued or sending too long.
CREATE INDEX messages_in_flight ON messages (status, queued_at) WHERE status IN ('queued', 'sending');

ALTER TABLE broadcasts
    ADD COLUMN retry_of    bigint REFERENCES broadcasts, -- "retry failed" makes a broadcast of the failed
    ADD COLUMN local_date  date,                         -- with local_time: that wall-clock time in each contact's zone
    ADD COLUMN expanded_at timestamptz;                  -- every recipient has its message row

-- How far a message has come. Status webhooks only ever raise it: a late "sent" never undoes
-- "read". failed ranks above sent (a message can fail after it was sent) and below delivered
-- (another device of the user can still report delivered after a failure).
-- +goose StatementBegin
CREATE FUNCTION message_rank(s message_status) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'pending' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'unknown' THEN 3
                  WHEN 'sent' THEN 4 WHEN 'failed' THEN 5 WHEN 'delivered' THEN 6 WHEN 'read' THEN 7
                  WHEN 'skipped' THEN 8 END
$$;
-- +goose StatementEnd

-- A portfolio's tier in Meta's names is derived from tier_limit; NULL is unlimited.
COMMENT ON COLUMN portfolios.tier_limit IS 'unique recipients per moving 24 h; NULL = unlimited';

-- Send windows: allowed ISO days of the week (1 = Monday) and hours, in a contact's time zone,
-- as {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "21:00"}.
-- +goose StatementBegin
CREATE FUNCTION in_send_window(ts timestamptz, tz text, w jsonb) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    local timestamp := ts AT TIME ZONE tz;
BEGIN
    RETURN (w -> 'days' IS NULL OR w -> 'days' @> to_jsonb(extract(isodow FROM local)::int))
       AND local::time >= (w ->> 'start')::time AND local::time < (w ->> 'end')::time;
END;
$$;
-- +goose StatementEnd

-- The first instant at or after ts inside the window, in the zone tz.
-- +goose StatementBegin
CREATE FUNCTION next_send_window(ts timestamptz, tz text, w jsonb) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    first_day date := (ts AT TIME ZONE tz)::date;
    opens timestamptz;
BEGIN
    IF in_send_window(ts, tz, w) THEN
        RETURN ts;
    END IF;
    FOR i IN 0..7 LOOP
        IF w -> 'days' IS NULL OR w -> 'days' @> to_jsonb(extract(isodow FROM first_day + i)::int) THEN
            opens := ((first_day + i) + (w ->> 'start')::time) AT TIME ZONE tz;
            IF opens >= ts THEN
                RETURN opens;
            END IF;
        END IF;
    END LOOP;
    RETURN ts;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION next_send_window(timestamptz, text, jsonb);
DROP FUNCTION in_send_window(timestamptz, text, jsonb);
DROP FUNCTION message_rank(message_status);
ALTER TABLE broadcasts DROP COLUMN retry_of, DROP COLUMN local_date, DROP COLUMN expanded_at;
DROP INDEX messages_in_flight;
DROP INDEX messages_broadcast_status;
ALTER TABLE messages DROP COLUMN opted_out_at, DROP COLUMN attempts, DROP COLUMN sending_at;
