-- The account's price list.
-- name: Prices :many
SELECT category, country, price::text AS price, currency FROM prices WHERE account_id = @account_id ORDER BY category, country;

-- name: DeletePrices :exec
DELETE FROM prices WHERE account_id = @account_id;

-- Writes a price list given as a JSON array of objects with category, country, price and currency.
-- name: InsertPrices :exec
INSERT INTO prices (account_id, category, country, price, currency)
SELECT @account_id, e ->> 'category', e ->> 'country', (e ->> 'price')::numeric, e ->> 'currency'
FROM jsonb_array_elements(@rows::jsonb) AS e;

-- Billable messages of a broadcast by Meta's category, with their cost at the account's prices;
-- priced counts those a price covers.
-- name: BroadcastBilling :many
SELECT category::text AS category, count(*)::bigint AS billable, COALESCE(sum(price), 0)::float8 AS cost, count(price)::bigint AS priced
FROM billed_messages
WHERE account_id = @account_id AND broadcast_id = @broadcast_id
GROUP BY 1 ORDER BY 1;

-- The same for a sequence, by step.
-- name: SequenceBilling :many
SELECT b.step::int AS step, b.category::text AS category, count(*)::bigint AS billable, COALESCE(sum(b.price), 0)::float8 AS cost,
       count(b.price)::bigint AS priced
FROM billed_messages b JOIN enrollments e ON e.id = b.enrollment_id
WHERE b.account_id = @account_id AND e.account_id = @account_id AND e.sequence_id = @sequence_id
GROUP BY 1, 2 ORDER BY 1, 2;

-- The same for the account, by UTC day of the send, from one instant to another (exclusive).
-- name: DailyBilling :many
SELECT to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, category::text AS category, count(*)::bigint AS billable,
       COALESCE(sum(price), 0)::float8 AS cost, count(price)::bigint AS priced
FROM billed_messages
WHERE account_id = @account_id AND sent_at >= @from_at::timestamptz AND sent_at < @to_at::timestamptz
GROUP BY 1, 2 ORDER BY 1, 2;
