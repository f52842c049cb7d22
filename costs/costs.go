// Package costs is what Meta charges for the messages an account sends, as Meta's status webhooks
// report it (billable or not, and the category it charged), and an estimate of the cost at the
// account's own price list (a price per category and country; Dripcast ships none). The API and
// the console call it alike.
package costs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// Categories are Meta's pricing categories a price may be set for (marketing_lite: a marketing
// template sent through the Marketing Messages API).
var Categories = []string{"marketing", "marketing_lite", "utility", "authentication", "service"}

// MaxPrices bounds an account's price list.
const MaxPrices = 1000

// Price is what one billable message of a category to a country costs the account: Country is
// ISO 3166 alpha-2, or "*" for any country without a price of its own. Price is a decimal (a
// JSON number, or a string of one), kept exact.
type Price struct {
	Category string      `json:"category"`
	Country  string      `json:"country"`
	Price    json.Number `json:"price"`
	Currency string      `json:"currency"`
}

// PriceList is the account's prices.
type PriceList struct {
	Prices []Price `json:"prices"`
}

// Prices is the account's price list.
func Prices(ctx context.Context, q *queries.Queries, account int64) (PriceList, error) {
	rows, err := q.Prices(ctx, account)
	out := PriceList{Prices: make([]Price, len(rows))}
	for i, r := range rows {
		out.Prices[i] = Price{Category: r.Category, Country: r.Country, Price: json.Number(trimZeros(r.Price)), Currency: r.Currency}
	}
	return out, err
}

var (
	countryRe  = regexp.MustCompile(`^([A-Z]{2}|\*)$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	priceRe    = regexp.MustCompile(`^\d{1,6}(\.\d{1,6})?$`)
)

// SetPrices replaces the account's price list, with its audit entry. One currency for the whole
// list: the estimates add the prices up.
func SetPrices(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in PriceList) (PriceList, error) {
	if len(in.Prices) > MaxPrices {
		return PriceList{}, invalid.Field("prices", "at most %d prices", MaxPrices)
	}
	seen := map[[2]string]bool{}
	for i, p := range in.Prices {
		field := fmt.Sprintf("prices[%d]", i)
		switch {
		case !slices.Contains(Categories, p.Category):
			return PriceList{}, invalid.Field(field+".category", "%q is not one of %v", p.Category, Categories)
		case !countryRe.MatchString(p.Country):
			return PriceList{}, invalid.Field(field+".country", "%q is not a country code such as IN, or * for any other", p.Country)
		case !priceRe.MatchString(p.Price.String()):
			return PriceList{}, invalid.Field(field+".price", "%q is not a price such as 0.0107 (at most 6 decimals)", p.Price)
		case !currencyRe.MatchString(p.Currency):
			return PriceList{}, invalid.Field(field+".currency", "%q is not a currency code such as USD", p.Currency)
		case p.Currency != in.Prices[0].Currency:
			return PriceList{}, invalid.Field(field+".currency", "every price takes the list's one currency, %s", in.Prices[0].Currency)
		case seen[[2]string{p.Category, p.Country}]:
			return PriceList{}, invalid.Field(field, "%s to %s is priced twice", p.Category, p.Country)
		}
		seen[[2]string{p.Category, p.Country}] = true
	}
	before, err := Prices(ctx, queries.New(db), by.AccountID)
	if err != nil {
		return PriceList{}, err
	}
	rows, _ := json.Marshal(in.Prices)
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if err := q.DeletePrices(ctx, by.AccountID); err != nil {
			return err
		}
		if err := q.InsertPrices(ctx, queries.InsertPricesParams{AccountID: by.AccountID, Rows: rows}); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "account.prices", "account", by.AccountID, before, in)
	})
	if err != nil {
		return PriceList{}, err
	}
	return Prices(ctx, queries.New(db), by.AccountID)
}

// Line is the billable messages of one category (of a campaign, a step or a day) and their
// estimated cost: Priced of them had a price (the cost counts those only).
type Line struct {
	Category string  `json:"category"`
	Billable int64   `json:"billable"`
	Priced   int64   `json:"priced"`
	Cost     float64 `json:"estimated_cost"`
}

// Billing is what a campaign cost: billable messages by category, and the estimated total in the
// price list's currency (empty when the account has no prices).
type Billing struct {
	Lines    []Line  `json:"categories"`
	Billable int64   `json:"billable"`
	Cost     float64 `json:"estimated_cost"`
	Currency string  `json:"currency,omitempty"`
}

func (b *Billing) add(l Line) {
	l.Cost = round(l.Cost)
	b.Lines = append(b.Lines, l)
	b.Billable += l.Billable
	b.Cost = round(b.Cost + l.Cost)
}

// round keeps six decimals, the prices' own precision.
func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// currency is the account's price list's currency ("" without prices).
func currency(ctx context.Context, q *queries.Queries, account int64) (string, error) {
	rows, err := q.Prices(ctx, account)
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0].Currency, nil
}

// OfBroadcast is a broadcast's billing.
func OfBroadcast(ctx context.Context, q *queries.Queries, account, broadcast int64) (Billing, error) {
	rows, err := q.BroadcastBilling(ctx, queries.BroadcastBillingParams{AccountID: account, BroadcastID: &broadcast})
	if err != nil {
		return Billing{}, err
	}
	b := Billing{Lines: []Line{}}
	for _, r := range rows {
		b.add(Line{Category: r.Category, Billable: r.Billable, Priced: r.Priced, Cost: r.Cost})
	}
	b.Currency, err = currency(ctx, q, account)
	return b, err
}

// OfSequence is a sequence's billing by step (steps without a billable message are absent).
func OfSequence(ctx context.Context, q *queries.Queries, account, sequence int64) (map[int]*Billing, error) {
	rows, err := q.SequenceBilling(ctx, queries.SequenceBillingParams{AccountID: account, SequenceID: sequence})
	if err != nil {
		return nil, err
	}
	cur, err := currency(ctx, q, account)
	if err != nil {
		return nil, err
	}
	out := map[int]*Billing{}
	for _, r := range rows {
		b := out[int(r.Step)]
		if b == nil {
			b = &Billing{Lines: []Line{}, Currency: cur}
			out[int(r.Step)] = b
		}
		b.add(Line{Category: r.Category, Billable: r.Billable, Priced: r.Priced, Cost: r.Cost})
	}
	return out, nil
}

// Day is one UTC day's billing.
type Day struct {
	Day string `json:"day"` // YYYY-MM-DD
	Billing
}

// MaxDays bounds the days one request reads.
const MaxDays = 400

// Daily is the account's billing per UTC day, from one day to another (both included).
func Daily(ctx context.Context, q *queries.Queries, account int64, from, to string) ([]Day, error) {
	start, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, invalid.Field("from", "%q is not a day such as 2026-12-01", from)
	}
	end, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return nil, invalid.Field("to", "%q is not a day such as 2026-12-31", to)
	}
	if end.Before(start) || end.Sub(start) > MaxDays*24*time.Hour {
		return nil, invalid.Field("to", "from %s to %s: at most %d days, not before from", from, to, MaxDays)
	}
	rows, err := q.DailyBilling(ctx, queries.DailyBillingParams{AccountID: account, FromAt: start, ToAt: end.AddDate(0, 0, 1)})
	if err != nil {
		return nil, err
	}
	cur, err := currency(ctx, q, account)
	if err != nil {
		return nil, err
	}
	out := []Day{}
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Day != r.Day {
			out = append(out, Day{Day: r.Day, Billing: Billing{Lines: []Line{}, Currency: cur}})
		}
		out[len(out)-1].add(Line{Category: r.Category, Billable: r.Billable, Priced: r.Priced, Cost: r.Cost})
	}
	return out, nil
}

// trimZeros writes a numeric as people do: 0.010700 as 0.0107, 2.000000 as 2.
func trimZeros(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
