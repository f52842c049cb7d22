-- What the console's pages read beyond the API's queries. Every query filters by account.

-- Broadcasts sending now or next, with how many of their messages have an outcome.
-- name: ActiveBroadcasts :many
SELECT b.id, b.name, b.status, b.status_reason, b.send_at, b.audience_count, b.started_at, b.channel_id,
       (SELECT count(*) FROM messages m WHERE m.account_id = b.account_id AND m.broadcast_id = b.id
          AND m.status NOT IN ('pending', 'queued', 'sending'))::bigint AS done
FROM broadcasts b
WHERE b.account_id = @account_id AND b.status IN ('running', 'scheduled', 'paused')
ORDER BY b.status = 'running' DESC, b.send_at NULLS LAST, b.id
LIMIT 20;

-- Each channel's health: quality, the portfolio's tier and its use in the moving 24 h (unique
-- recipients reached), and the pace of the last minute.
-- name: ChannelHealth :many
SELECT ch.id, ch.name, ch.display_number, ch.quality_rating, ch.status, ch.throughput_mps, p.name AS portfolio, p.tier_limit,
       (SELECT count(DISTINCT m.contact_id) FROM messages m JOIN channels c2 ON c2.id = m.channel_id
         WHERE m.account_id = ch.account_id AND c2.portfolio_id = p.id AND m.sent_at > now() - interval '24 hours')::bigint AS tier_used,
       (SELECT count(*) FROM messages m
         WHERE m.account_id = ch.account_id AND m.channel_id = ch.id AND m.sent_at > now() - interval '1 minute')::bigint AS sent_last_minute
FROM channels ch JOIN portfolios p ON p.id = ch.portfolio_id
WHERE ch.account_id = @account_id
ORDER BY ch.id;

-- The last day's outcomes across the account.
-- name: DayTotals :one
SELECT count(*) FILTER (WHERE sent_at > now() - interval '24 hours')::bigint AS sent,
       count(*) FILTER (WHERE delivered_at > now() - interval '24 hours')::bigint AS delivered,
       count(*) FILTER (WHERE read_at > now() - interval '24 hours')::bigint AS read,
       count(*) FILTER (WHERE failed_at > now() - interval '24 hours')::bigint AS failed
FROM messages
WHERE account_id = @account_id AND (sent_at > now() - interval '24 hours' OR failed_at > now() - interval '24 hours');

-- Sends of a broadcast per second over the last minute, for the live chart.
-- name: SendsPerSecond :many
SELECT extract(epoch FROM date_trunc('second', sent_at))::bigint AS second, count(*)::bigint AS n
FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND sent_at > now() - interval '60 seconds'
GROUP BY 1 ORDER BY 1;

-- Messages of a broadcast waiting for a later time (a send window, a contact's local time; not
-- those the messaging tier holds), and the first of those times.
-- name: BroadcastHeld :one
SELECT count(*)::bigint AS n, COALESCE(min(due_at), now())::timestamptz AS next_at -- now() when none waits
FROM messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id AND status = 'pending' AND due_at > now()
  AND reason IS DISTINCT FROM 'tier'; -- the report counts those held by the messaging tier

-- The account's broadcasts, newest first, before a cursor (an id; 0 starts at the newest).
-- name: RecentBroadcasts :many
SELECT * FROM broadcasts
WHERE account_id = @account_id AND (@before::bigint = 0 OR id < @before::bigint)
ORDER BY id DESC LIMIT @lim;
