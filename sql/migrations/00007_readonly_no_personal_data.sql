-- +goose Up
-- The dashboards' read-only role reads campaign data, never personal data: not an enrollment's
-- properties (order payloads), a message's rendering context, nor a broadcast's audience (it may
-- list phone numbers). Column grants replace the table grants of 00005.
REVOKE SELECT ON messages, broadcasts, enrollments FROM dripcast_readonly;
GRANT SELECT (id, account_id, channel_id, contact_id, template_id, broadcast_id, enrollment_id, step, status, due_at,
              queued_at, sent_at, delivered_at, read_at, failed_at, replied_at, wamid, error_code, reason, sending_at,
              attempts, opted_out_at) ON messages TO dripcast_readonly;
GRANT SELECT (id, account_id, channel_id, template_id, name, status, status_reason, send_at, local_time, local_date,
              send_window, rate_cap, expires_at, audience_count, created_at, updated_at, started_at, finished_at,
              retry_of, expanded_at) ON broadcasts TO dripcast_readonly;
GRANT SELECT (id, account_id, sequence_id, version, contact_id, status, exit_reason, next_step, next_run_at,
              enrolled_at, finished_at, last_step_at, event_id) ON enrollments TO dripcast_readonly;

-- +goose Down
REVOKE SELECT ON messages, broadcasts, enrollments FROM dripcast_readonly;
GRANT SELECT ON messages, broadcasts, enrollments TO dripcast_readonly;
