package costs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
)

// A price list is checked, replaced whole with its audit entry, and prices what Meta billed: the
// contact's country first, else "*"; a delivered billable message counts, one that was not
// delivered (or not billable) does not; another account's messages never count.
func TestPricesAndEstimates(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	ctx := context.Background()
	var account, other, broadcast int64
	err := pool.QueryRow(ctx, `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a'), ('b') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name) SELECT id, 'p' FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		       SELECT account_id, id, '100' || account_id, '200' || account_id, '+1415555019' || account_id, '\x00', '\x00' FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components) SELECT account_id, 'promo', 'en', 'marketing', '{}' FROM ch RETURNING id, account_id),
		b AS (INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience)
		      SELECT ch.account_id, ch.id, t.id, 'b', 'completed', '{}' FROM ch JOIN t USING (account_id) RETURNING id, account_id, channel_id, template_id),
		c AS (INSERT INTO contacts (account_id, phone, country, opted_in)
		      SELECT a.id, x.phone, x.country, true FROM a, (VALUES ('+919876543210', 'IN'), ('+14155550100', 'US'), ('+447700900123', 'GB')) x(phone, country)
		      RETURNING id, account_id, country),
		m AS (INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, sent_at, billable, pricing_category)
		      SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id,
		             CASE c.country WHEN 'GB' THEN 'failed' ELSE 'delivered' END::message_status, now(), now(), true, 'marketing'
		      FROM b JOIN c USING (account_id))
		SELECT min(b.id), min(b.account_id), max(b.account_id) FROM b`).Scan(&broadcast, &account, &other)
	if err != nil {
		t.Fatal(err)
	}
	by := audit.Actor{AccountID: account, Name: "tester"}
	for name, bad := range map[string]Price{
		"prices[0].category": {Category: "promo", Country: "IN", Price: "0.01", Currency: "USD"},
		"prices[0].country":  {Category: "marketing", Country: "India", Price: "0.01", Currency: "USD"},
		"prices[0].price":    {Category: "marketing", Country: "IN", Price: "-1", Currency: "USD"},
		"prices[0].currency": {Category: "marketing", Country: "IN", Price: "0.01", Currency: "usd"},
	} {
		if _, err := SetPrices(ctx, pool, by, PriceList{Prices: []Price{bad}}); err == nil || err.(*invalid.Error).Field != name {
			t.Errorf("%+v: %v, want an error on %s", bad, err, name)
		}
	}
	mixed := PriceList{Prices: []Price{{"marketing", "IN", "0.01", "USD"}, {"marketing", "*", "0.02", "EUR"}}}
	if _, err := SetPrices(ctx, pool, by, mixed); err == nil {
		t.Error("two currencies in one list were taken")
	}
	list, err := SetPrices(ctx, pool, by, PriceList{Prices: []Price{{"marketing", "IN", "0.0107", "USD"}, {"marketing", "*", json.Number("0.025"), "USD"}}})
	if err != nil || len(list.Prices) != 2 || list.Prices[0].Price != "0.025" {
		t.Fatalf("the list: %+v %v", list, err)
	}
	var audits int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE account_id = $1 AND action = 'account.prices'`, account).Scan(&audits)
	if audits != 1 {
		t.Errorf("%d audit entries, want 1", audits)
	}

	q := queries.New(pool)
	b, err := OfBroadcast(ctx, q, account, broadcast)
	if err != nil || b.Billable != 2 || b.Cost != 0.0357 || b.Currency != "USD" || len(b.Lines) != 1 || b.Lines[0].Priced != 2 {
		t.Errorf("the broadcast's billing: %+v %v, want 2 billable (IN at 0.0107, US at the * price 0.025), the failed one not", b, err)
	}
	if b, _ := OfBroadcast(ctx, q, other, broadcast); b.Billable != 0 {
		t.Errorf("another account sees %d billable messages of this broadcast", b.Billable)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	days, err := Daily(ctx, q, account, today, today)
	if err != nil || len(days) != 1 || days[0].Billable != 2 || days[0].Cost != 0.0357 {
		t.Errorf("today: %+v %v", days, err)
	}
	if _, err := Daily(ctx, q, account, today, "2020-01-01"); err == nil {
		t.Error("a range ending before it starts was taken")
	}
}
