package importer

import (
	"encoding/csv"
	"strings"
	"testing"
)

// Any CSV: the header maps or is refused, each record becomes a contact or a row error, and an
// accepted contact has a phone number in E.164.
func FuzzCSVRows(f *testing.F) {
	f.Add("phone,name,tags,opted_in,city\n+91 98765 43210,Asha,\"vip;new\",yes,Pune\n", "IN")
	f.Add("Mobile,Consent\n098765 43210,no\n", "IN")
	f.Add("phone\n=HYPERLINK(\"x\")\n", "")
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
			if row, err := in.Normalize(country); err == nil && !strings.HasPrefix(row.Phone, "+") {
				t.Fatalf("accepted %q as %q", in.Phone, row.Phone)
			}
		}
	})
}

// Any NDJSON line: a contact object or an error, never a panic.
func FuzzNDJSONLine(f *testing.F) {
	f.Add([]byte(`{"phone":"+14155550100","name":"Lee","tags":["a"],"attributes":{"city":"SF"},"opted_in":true}`))
	f.Add([]byte(`{"phone":"+14155550100"} {"phone":"x"}`))
	f.Add([]byte(`{"phone":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := decodeLine(line)
		if err != nil {
			return
		}
		if row, err := in.Normalize(""); err == nil && !strings.HasPrefix(row.Phone, "+") {
			t.Fatalf("accepted %q as %q", in.Phone, row.Phone)
		}
	})
}
