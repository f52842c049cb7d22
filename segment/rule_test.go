package segment

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	var r Rule
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCompile(t *testing.T) {
	t.Parallel()
	r := mustRule(t, `{"all":[
		{"field":"opted_in","op":"eq","value":true},
		{"any":[{"field":"tags","op":"contains","value":"vip"},{"field":"attributes.city","op":"in","value":["Pune",42]}]},
		{"not":{"field":"country","op":"eq","value":"US"}},
		{"field":"created_at","op":"within","value":30}]}`)
	p := &Params{Values: []any{nil}}
	sql, err := Compile(r, p)
	if err != nil {
		t.Fatal(err)
	}
	want := `(c.opted_in = $2 AND (c.tags @> ARRAY[$3::text] OR (c.attributes ->> $4::text) = ANY($5::text[])) AND ` +
		`(NOT COALESCE(c.country = $6, false)) AND c.created_at >= now() - make_interval(days => $7::int))`
	if sql != want {
		t.Fatalf("SQL\n got %s\nwant %s", sql, want)
	}
	args, _ := json.Marshal(p.Values[1:])
	if string(args) != `[true,"vip","city",["Pune","42"],"US",30]` {
		t.Fatalf("args %s", args)
	}
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	deep := `{"field":"name","op":"exists"}`
	for range MaxDepth {
		deep = `{"not":` + deep + `}`
	}
	wide := `{"any":[` + strings.TrimSuffix(strings.Repeat(`{"field":"name","op":"exists"},`, MaxNodes), ",") + `]}`
	long := `{"field":"name","op":"eq","value":"` + strings.Repeat("x", MaxValueLen+1) + `"}`
	cases := map[string]string{
		`{}`:         "exactly one of",
		`{"all":[]}`: "empty group",
		`{"all":[{"field":"name","op":"exists"}],"any":[]}`:           "exactly one of",
		`{"field":"password","op":"eq","value":"x"}`:                  "unknown field",
		`{"field":"name; DROP TABLE contacts","op":"eq","value":"x"}`: "unknown field",
		`{"field":"attributes.a'b","op":"eq","value":"x"}`:            "attribute name",
		`{"field":"attributes.a) OR 1=1 --","op":"exists"}`:           "attribute name",
		`{"field":"name","op":"like","value":"x"}`:                    "does not apply",
		`{"field":"opted_in","op":"contains","value":true}`:           "does not apply",
		`{"field":"opted_in","op":"eq","value":"yes"}`:                "true or false",
		`{"field":"created_at","op":"before","value":"yesterday"}`:    "value must be a time",
		`{"field":"created_at","op":"within","value":0}`:              "whole number of days",
		`{"field":"tags","op":"in","value":[]}`:                       "non-empty list",
		`{"field":"tags","op":"in","value":[{"a":1}]}`:                "list item 0",
		`{"field":"name","op":"exists","value":"x"}`:                  "takes no value",
		deep: "nested deeper",
		wide: "more than",
		long: "longer than",
	}
	for in, want := range cases {
		var r Rule
		if err := json.Unmarshal([]byte(in), &r); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		err := Check(r)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%.80s) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte(`{"field":"name","op":"exists","sql":"1=1"}`)); err == nil {
		t.Fatal("a rule with an unknown key was accepted")
	}
}

func TestErrorNamesThePath(t *testing.T) {
	t.Parallel()
	err := Check(mustRule(t, `{"all":[{"field":"name","op":"exists"},{"any":[{"field":"nope","op":"eq","value":1}]}]}`))
	if err == nil || !strings.HasPrefix(err.Error(), "all[1].any[0]: ") {
		t.Fatalf("error %v does not point at all[1].any[0]", err)
	}
}

// Injection attempts in values: they become bind parameters, never SQL text.
func TestValuesNeverReachSQL(t *testing.T) {
	t.Parallel()
	evil := []string{`x' OR '1'='1`, `"; DROP TABLE contacts; --`, `$99`, `%_%`, `\`, "\x00"}
	for _, v := range evil {
		b, _ := json.Marshal(v)
		for _, field := range []string{"name", "phone", "attributes.city", "tags"} {
			op := "eq"
			if field == "tags" {
				op = "contains"
			}
			p := &Params{}
			sql, err := Compile(Rule{Field: field, Op: op, Value: b}, p)
			if err != nil {
				continue // a value may be refused, never compiled in
			}
			if strings.Contains(sql, v) {
				t.Errorf("value %q appears in SQL %s", v, sql)
			}
			checkSQLShape(t, sql, p, 1)
		}
	}
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// checkSQLShape asserts what holds for any compiled rule: no statement separators or comments,
// no quoted literal but the empty string, and exactly one placeholder per argument.
func checkSQLShape(t *testing.T, sql string, p *Params, first int) {
	t.Helper()
	for _, bad := range []string{";", "--", "/*"} {
		if strings.Contains(sql, bad) {
			t.Fatalf("SQL holds %q: %s", bad, sql)
		}
	}
	if strings.Contains(strings.ReplaceAll(sql, "''", ""), "'") {
		t.Fatalf("SQL holds a quoted literal: %s", sql)
	}
	seen := map[int]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(sql, -1) {
		n, _ := strconv.Atoi(m[1])
		seen[n] = true
	}
	args := len(p.Values) - first + 1
	if len(seen) != args {
		t.Fatalf("%d placeholders for %d args: %s", len(seen), args, sql)
	}
	for i := range args {
		if !seen[first+i] {
			t.Fatalf("placeholder $%d missing: %s", first+i, sql)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`{"all":[{"field":"opted_in","op":"eq","value":true}]}`,
		`{"any":[{"field":"tags","op":"in","value":["a","b"]},{"not":{"field":"name","op":"contains","value":"x'y"}}]}`,
		`{"field":"attributes.score","op":"gt","value":3.5}`,
		`{"field":"updated_at","op":"after","value":"2026-01-01"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Parse([]byte(in))
		if err != nil {
			return
		}
		p := &Params{Values: []any{nil, nil}}
		sql, err := Compile(r, p)
		if err != nil {
			t.Fatalf("Parse accepted what Compile refuses: %v", err)
		}
		checkSQLShape(t, sql, p, 3)
	})
}
