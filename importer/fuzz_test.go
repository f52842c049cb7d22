package importer

import (
	"encoding/csv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dripcast/dripcast/contacts"
)

// Any CSV: the header maps or is refused, each record becomes a contact or a row error, and an
// accepted contact has a phone number in E.164.
func FuzzCSVRows(f *testing.F) {
	f.Add("phone,name,tags,opted_in,city\n+91 98765 43210,Asha,\"vip;new\",yes,Pune\n", "IN")
	f.Add("Mobile,Consent\n098765 43210,no\n", "IN")
	f.Add("phone\n=HYPERLINK(\"x\")\n", "")
	f.Add("phone,name,city\n+14155550100,A\x00sha,P\xffune\n", "")
	f.Fuzz(func(t *testing.T, text, country string) {
		records, err := csv.NewReader(strings.NewReader(text)).ReadAll()
		if err != nil || len(records) == 0 {
			return
		}
		cols, _, err := mapColumns(records[0], map[string]string{"phone": "Mobile", "opted_in": "Consent"})
		if err != nil {
			return
		}
		for _, rec := range records[1:] {
			in, err := cols.input(rec)
			if err != nil {
				continue
			}
			if row, err := in.Normalize(country); err == nil {
				storable(t, row)
			}
		}
	})
}

// Any NDJSON line: a contact object or an error, never a panic.
func FuzzNDJSONLine(f *testing.F) {
	f.Add([]byte(`{"phone":"+14155550100","name":"Lee","tags":["a"],"attributes":{"city":"SF"},"opted_in":true}`))
	f.Add([]byte(`{"phone":"+14155550100"} {"phone":"x"}`))
	f.Add([]byte(`{"phone":1}`))
	f.Add([]byte(`{"phone":"+14155550100","name":"A\u0000","tags":["\u0000"],"attributes":{"c":"\u0000"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := decodeLine(line)
		if err != nil {
			return
		}
		if row, err := in.Normalize(""); err == nil {
			storable(t, row)
		}
	})
}

// storable fails on an accepted row that Postgres would refuse, and so fail its whole batch: a
// phone not in E.164, invalid UTF-8 or a NUL character in any text.
func storable(t *testing.T, row contacts.Row) {
	t.Helper()
	if !strings.HasPrefix(row.Phone, "+") {
		t.Fatalf("accepted phone %q", row.Phone)
	}
	texts := append([]string{row.Name, row.Email, row.TimeZone, row.OptInSource}, row.Tags...)
	for _, v := range row.Attributes {
		if s, ok := v.(string); ok {
			texts = append(texts, s)
		}
	}
	for _, s := range texts {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("accepted unstorable text %q", s)
		}
	}
}
