-- +goose Up
-- What Meta says a message costs, from the pricing object of its status webhooks: billable or not,
-- and the category Meta charged (marketing, utility, authentication, service, …).
ALTER TABLE messages ADD COLUMN billable boolean, ADD COLUMN pricing_category text;
GRANT SELECT (billable, pricing_category) ON messages TO dripcast_readonly;
-- Billable messages by day, for the cost panel and GET /v1/costs.
CREATE INDEX messages_billable ON messages (account_id, sent_at) INCLUDE (pricing_category, channel_id, contact_id)
    WHERE billable;

-- The account's own price list for an estimated cost: a price per billable message of a category
-- to a country (ISO 3166 alpha-2, or '*' for any other). Dripcast ships none.
CREATE TABLE prices (
    account_id bigint        NOT NULL REFERENCES accounts ON DELETE CASCADE,
    category   text          NOT NULL CHECK (category IN ('marketing', 'utility', 'authentication', 'service')),
    country    text          NOT NULL CHECK (country = '*' OR country ~ '^[A-Z]{2}$'),
    price      numeric(12,6) NOT NULL CHECK (price >= 0),
    currency   text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (account_id, category, country)
);

-- The messages Meta billed (it charges a billable message once delivered), each with its price
-- from the account's list (the contact's country, else '*'; null without one): what the reports,
-- GET /v1/costs and the dashboards' cost panel add up.
CREATE VIEW billed_messages AS
SELECT m.account_id, m.channel_id, m.broadcast_id, m.enrollment_id, m.step, m.sent_at, m.pricing_category AS category,
       COALESCE(pc.price, pa.price) AS price, COALESCE(pc.currency, pa.currency) AS currency
FROM messages m
JOIN contacts c ON c.id = m.contact_id
LEFT JOIN prices pc ON pc.account_id = m.account_id AND pc.category = m.pricing_category AND pc.country = c.country
LEFT JOIN prices pa ON pa.account_id = m.account_id AND pa.category = m.pricing_category AND pa.country = '*'
WHERE m.billable AND m.status IN ('delivered', 'read');
GRANT SELECT ON billed_messages TO dripcast_readonly; -- no personal data: ids, times, categories, prices

-- +goose Down
DROP VIEW billed_messages;
DROP TABLE prices;
DROP INDEX messages_billable;
ALTER TABLE messages DROP COLUMN billable, DROP COLUMN pricing_category;
