package segment_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
	"github.com/dripcast/dripcast/testenv"
)

// seed makes two accounts; the second holds a contact that matches every rule, so a query that
// forgot the account filter would count it.
func seed(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	ctx := context.Background()
	q := queries.New(pool)
	var ids []int64
	for _, name := range []string{"a", "b"} {
		acct, err := q.CreateAccount(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acct.ID)
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO contacts (account_id, phone, name, email, tags, attributes, country, opted_in, created_at) VALUES
		($1, '+919876543210', 'Asha Rao', 'asha@example.com', '{vip,pune}', '{"city":"Pune","score":"7","renewal":"2026-03-01"}', 'IN', true,  now() - interval '2 days'),
		($1, '+919876543211', 'Ravi',     '',                 '{pune}',     '{"city":"Pune","score":"x"}',                         'IN', false, now() - interval '40 days'),
		($1, '+14155550100',  'Bob 100%', 'bob@example.com',  '{}',         '{"score":12.5}',                                      'US', true,  now() - interval '400 days'),
		($1, '+442079460958', '',         '',                 '{vip}',      '{}',                                                  'GB', false, now()),
		($2, '+14155550199',  'Other',    'o@example.com',    '{vip,pune}', '{"city":"Pune","score":"9"}',                         'IN', true,  now())`,
		ids[0], ids[1])
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

func TestRulesAgainstContacts(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	account := seed(t, pool)
	ctx := context.Background()
	cases := map[string][]string{
		`{"field":"opted_in","op":"eq","value":true}`:                       {"Asha Rao", "Bob 100%"},
		`{"field":"tags","op":"contains","value":"vip"}`:                    {"Asha Rao", ""},
		`{"field":"tags","op":"in","value":["pune","nope"]}`:                {"Asha Rao", "Ravi"},
		`{"field":"tags","op":"exists"}`:                                    {"Asha Rao", "Ravi", ""},
		`{"not":{"field":"tags","op":"exists"}}`:                            {"Bob 100%"},
		`{"field":"country","op":"in","value":["US","GB"]}`:                 {"Bob 100%", ""},
		`{"field":"name","op":"contains","value":"%"}`:                      {"Bob 100%"},
		`{"field":"name","op":"contains","value":"_"}`:                      {},
		`{"field":"name","op":"contains","value":"RAO"}`:                    {"Asha Rao"},
		`{"field":"email","op":"exists"}`:                                   {"Asha Rao", "Bob 100%"},
		`{"field":"phone","op":"eq","value":"+14155550100"}`:                {"Bob 100%"},
		`{"field":"attributes.city","op":"eq","value":"Pune"}`:              {"Asha Rao", "Ravi"},
		`{"not":{"field":"attributes.city","op":"eq","value":"Pune"}}`:      {"Bob 100%", ""},
		`{"field":"attributes.city","op":"exists"}`:                         {"Asha Rao", "Ravi"},
		`{"field":"attributes.score","op":"gt","value":5}`:                  {"Asha Rao", "Bob 100%"},
		`{"field":"attributes.score","op":"lt","value":10}`:                 {"Asha Rao"},
		`{"field":"attributes.score","op":"eq","value":12.5}`:               {"Bob 100%"},
		`{"field":"attributes.renewal","op":"before","value":"2026-06-01"}`: {"Asha Rao"},
		`{"field":"created_at","op":"within","value":30}`:                   {"Asha Rao", ""},
		`{"field":"created_at","op":"before","value":"2000-01-01"}`:         {},
		`{"all":[{"field":"opted_in","op":"eq","value":true},{"any":[{"field":"country","op":"eq","value":"IN"},{"field":"attributes.score","op":"gt","value":10}]}]}`: {"Asha Rao", "Bob 100%"},
		`{"field":"name","op":"eq","value":"x' OR '1'='1"}`: {},
	}
	for in, want := range cases {
		r, err := segment.Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		list, err := segment.Contacts(ctx, pool, account, &r, 0, 100)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.Name)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s\n got %q\nwant %q", in, got, want)
		}
		n, err := segment.Count(ctx, pool, account, &r)
		if err != nil || n != int64(len(want)) {
			t.Errorf("%s: Count = %d, %v; want %d", in, n, err, len(want))
		}
	}
}

func TestContactsPaginates(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	account := seed(t, pool)
	ctx := context.Background()
	var all []int64
	after := int64(0)
	for {
		page, err := segment.Contacts(ctx, pool, account, nil, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			all = append(all, c.ID)
		}
		after = page[len(page)-1].ID
	}
	if len(all) != 4 || !slices.IsSorted(all) {
		t.Fatalf("pages gave ids %v, want the account's 4 contacts in order", all)
	}
}
