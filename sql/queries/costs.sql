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

-- Billable messages of a broadcast by Meta's category, with their cost at the account's prices
-- (the contact's country, else '*'); priced counts those a price covers. Meta charges a billable
-- message when it is delivered.
-- name: BroadcastBilling :many
SELECT m.pricing_category::text AS category, count(*)::bigint AS billable,
       COALESCE(sum(COALESCE(pc.price, pa.price)), 0)::float8 AS cost, count(COALESCE(pc.price, pa.price))::bigint AS priced
FROM messages m JOIN contacts c ON c.id = m.contact_id
LEFT JOIN prices pc ON pc.account_id = m.account_id AND pc.category = m.pricing_category AND pc.country = c.country
LEFT JOIN prices pa ON pa.account_id = m.account_id AND pa.category = m.pricing_category AND pa.country = '*'
WHERE m.account_id = @account_id AND m.broadcast_id = @broadcast_id AND m.billable AND m.status IN ('delivered', 'read')
GROUP BY 1 ORDER BY 1;

-- The same for a sequence, by step.
-- name: SequenceBilling :many
SELECT m.step::int AS step, m.pricing_category::text AS category, count(*)::bigint AS billable,
       COALESCE(sum(COALESCE(pc.price, pa.price)), 0)::float8 AS cost, count(COALESCE(pc.price, pa.price))::bigint AS priced
FROM messages m JOIN enrollments e ON e.id = m.enrollment_id JOIN contacts c ON c.id = m.contact_id
LEFT JOIN prices pc ON pc.account_id = m.account_id AND pc.category = m.pricing_category AND pc.country = c.country
LEFT JOIN prices pa ON pa.account_id = m.account_id AND pa.category = m.pricing_category AND pa.country = '*'
WHERE m.account_id = @account_id AND e.account_id = @account_id AND e.sequence_id = @sequence_id AND m.billable AND m.status IN ('delivered', 'read')
GROUP BY 1, 2 ORDER BY 1, 2;

-- The same for the account, by UTC day of the send, from one instant to another (exclusive).
-- name: DailyBilling :many
SELECT to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, m.pricing_category::text AS category, count(*)::bigint AS billable,
       COALESCE(sum(COALESCE(pc.price, pa.price)), 0)::float8 AS cost, count(COALESCE(pc.price, pa.price))::bigint AS priced
FROM messages m JOIN contacts c ON c.id = m.contact_id
LEFT JOIN prices pc ON pc.account_id = m.account_id AND pc.category = m.pricing_category AND pc.country = c.country
LEFT JOIN prices pa ON pa.account_id = m.account_id AND pa.category = m.pricing_category AND pa.country = '*'
WHERE m.account_id = @account_id AND m.billable AND m.status IN ('delivered', 'read')
  AND m.sent_at >= @from_at::timestamptz AND m.sent_at < @to_at::timestamptz
GROUP BY 1, 2 ORDER BY 1, 2;
