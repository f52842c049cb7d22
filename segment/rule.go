// Package segment compiles audience rules (a tree of all / any / not over contact fields) into
// parameterized SQL. No byte of the input ever becomes SQL text: field names select fixed
// fragments from a table in this file and every value travels as a bind parameter.
package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
)

// Limits on a rule tree, so a segment cannot become an expensive query.
const (
	MaxDepth     = 8
	MaxNodes     = 200
	MaxListItems = 1000
	MaxValueLen  = 1024
	MaxDays      = 3650
)

// Rule is one node: a group (All, Any or Not) or a condition (Field, Op, Value).
type Rule struct {
	All   []Rule          `json:"all,omitempty"`
	Any   []Rule          `json:"any,omitempty"`
	Not   *Rule           `json:"not,omitempty"`
	Field string          `json:"field,omitempty"`
	Op    string          `json:"op,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Uses tells whether the rule, or any rule inside it, reads the field.
func (r Rule) Uses(field string) bool {
	if r.Field == field || (r.Not != nil && r.Not.Uses(field)) {
		return true
	}
	for _, list := range [][]Rule{r.All, r.Any} {
		for _, sub := range list {
			if sub.Uses(field) {
				return true
			}
		}
	}
	return false
}

// Parse decodes and checks a rule tree without compiling it.
func Parse(data []byte) (Rule, error) {
	var r Rule
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Rule{}, invalid.Input("rules are not valid JSON: %s", err)
	}
	return r, Check(r)
}

// Compile turns a rule into a WHERE fragment over the contacts table aliased "c", adding its
// values to p.
func Compile(r Rule, p *Params) (string, error) {
	c := &compiler{params: p}
	return c.node(r, "", 1)
}

// Check says whether a rule compiles, without keeping the SQL.
func Check(r Rule) error {
	_, err := Compile(r, &Params{})
	return err
}

type compiler struct {
	params *Params
	nodes  int
}

func (c *compiler) param(v any) string { return c.params.Add(v) }

func (c *compiler) node(r Rule, path string, depth int) (string, error) {
	c.nodes++
	if c.nodes > MaxNodes {
		return "", invalid.Field(path, "more than %d rules", MaxNodes)
	}
	if depth > MaxDepth {
		return "", invalid.Field(path, "nested deeper than %d levels", MaxDepth)
	}
	kinds := 0
	for _, set := range []bool{r.All != nil, r.Any != nil, r.Not != nil, r.Field != "" || r.Op != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return "", invalid.Field(path, `a rule is exactly one of "all", "any", "not" or a condition with "field" and "op"`)
	}
	switch {
	case r.All != nil:
		return c.group(r.All, join(path, "all"), " AND ", depth)
	case r.Any != nil:
		return c.group(r.Any, join(path, "any"), " OR ", depth)
	case r.Not != nil:
		inner, err := c.node(*r.Not, join(path, "not"), depth+1)
		if err != nil {
			return "", err
		}
		// A condition on a missing value is NULL; NOT must still match such contacts.
		return "(NOT COALESCE(" + inner + ", false))", nil
	default:
		sql, err := c.condition(r)
		if err != nil {
			return "", invalid.Field(path, "%s", err.Error())
		}
		return sql, nil
	}
}

func (c *compiler) group(rules []Rule, path, sep string, depth int) (string, error) {
	if len(rules) == 0 {
		return "", invalid.Field(path, "an empty group matches nothing useful; add at least one rule")
	}
	parts := make([]string, len(rules))
	for i, sub := range rules {
		s, err := c.node(sub, fmt.Sprintf("%s[%d]", path, i), depth+1)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return "(" + strings.Join(parts, sep) + ")", nil
}

func join(path, step string) string {
	if path == "" {
		return step
	}
	return path + "." + step
}

// kind says which operators a field takes and how its value is typed.
type kind int

const (
	kindText kind = iota
	kindBool
	kindTime
	kindTags
	kindAttr
)

// fields maps the names a rule may use to fixed SQL expressions.
var fields = map[string]struct {
	expr string
	kind kind
}{
	"phone":      {"c.phone", kindText},
	"name":       {"c.name", kindText},
	"email":      {"c.email", kindText},
	"country":    {"c.country", kindText},
	"time_zone":  {"c.time_zone", kindText},
	"opted_in":   {"c.opted_in", kindBool},
	"created_at": {"c.created_at", kindTime},
	"updated_at": {"c.updated_at", kindTime},
	"tags":       {"c.tags", kindTags},
}

func (c *compiler) condition(r Rule) (string, error) {
	if r.Field == "" || r.Op == "" {
		return "", errors.New(`a condition needs "field" and "op"`)
	}
	if key, ok := strings.CutPrefix(r.Field, "attributes."); ok {
		if !contacts.AttributeKeyValid(key) {
			return "", fmt.Errorf("attribute name must match %s", contacts.AttributeKey)
		}
		return c.attribute(key, r.Op, r.Value)
	}
	f, ok := fields[r.Field]
	if !ok {
		return "", fmt.Errorf("unknown field %q; use one of %s or attributes.<name>", r.Field, fieldNames())
	}
	switch f.kind {
	case kindText:
		return c.text(f.expr, r.Op, r.Value)
	case kindBool:
		return c.boolean(f.expr, r.Op, r.Value)
	case kindTime:
		return c.timestamp(f.expr, r.Op, r.Value)
	default:
		return c.tags(r.Op, r.Value)
	}
}

func fieldNames() string {
	return "phone, name, email, country, time_zone, opted_in, created_at, updated_at, tags"
}

func (c *compiler) text(expr, op string, v json.RawMessage) (string, error) {
	switch op {
	case "eq", "neq":
		s, err := str(v)
		if err != nil {
			return "", err
		}
		if op == "eq" {
			return expr + " = " + c.param(s), nil
		}
		return expr + " <> " + c.param(s), nil
	case "in":
		list, err := strList(v)
		if err != nil {
			return "", err
		}
		return expr + " = ANY(" + c.param(list) + "::text[])", nil
	case "contains":
		s, err := str(v)
		if err != nil {
			return "", err
		}
		// strpos, not LIKE: a value with % or _ must not act as a wildcard.
		return "strpos(lower(" + expr + "), lower(" + c.param(s) + ")) > 0", nil
	case "exists":
		if err := noValue(v); err != nil {
			return "", err
		}
		return expr + " <> ''", nil
	}
	return "", unsupported(op, "eq, neq, in, contains, exists")
}

func (c *compiler) boolean(expr, op string, v json.RawMessage) (string, error) {
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return "", errors.New("value must be true or false")
	}
	switch op {
	case "eq":
		return expr + " = " + c.param(b), nil
	case "neq":
		return expr + " <> " + c.param(b), nil
	}
	return "", unsupported(op, "eq, neq")
}

func (c *compiler) timestamp(expr, op string, v json.RawMessage) (string, error) {
	switch op {
	case "before", "lt", "after", "gt":
		t, err := instant(v)
		if err != nil {
			return "", err
		}
		if op == "before" || op == "lt" {
			return expr + " < " + c.param(t), nil
		}
		return expr + " > " + c.param(t), nil
	case "within":
		days, err := dayCount(v)
		if err != nil {
			return "", err
		}
		return expr + " >= now() - make_interval(days => " + c.param(days) + "::int)", nil
	}
	return "", unsupported(op, "before, after, gt, lt, within")
}

func (c *compiler) tags(op string, v json.RawMessage) (string, error) {
	switch op {
	case "contains", "eq":
		s, err := str(v)
		if err != nil {
			return "", err
		}
		return "c.tags @> ARRAY[" + c.param(s) + "::text]", nil
	case "in":
		list, err := strList(v)
		if err != nil {
			return "", err
		}
		return "c.tags && " + c.param(list) + "::text[]", nil
	case "exists":
		if err := noValue(v); err != nil {
			return "", err
		}
		return "cardinality(c.tags) > 0", nil
	}
	return "", unsupported(op, "contains, in, exists")
}

func (c *compiler) attribute(key, op string, v json.RawMessage) (string, error) {
	val := "(c.attributes ->> " + c.param(key) + "::text)"
	switch op {
	case "eq", "neq", "contains":
		s, err := scalar(v)
		if err != nil {
			return "", err
		}
		switch op {
		case "eq":
			return val + " = " + c.param(s), nil
		case "neq":
			return val + " <> " + c.param(s), nil
		}
		return "strpos(lower(" + val + "), lower(" + c.param(s) + ")) > 0", nil
	case "in":
		list, err := strList(v)
		if err != nil {
			return "", err
		}
		return val + " = ANY(" + c.param(list) + "::text[])", nil
	case "exists":
		if err := noValue(v); err != nil {
			return "", err
		}
		return val + " IS NOT NULL", nil
	case "gt", "lt":
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return "", errors.New("value must be a number")
		}
		cmp := " > "
		if op == "lt" {
			cmp = " < "
		}
		return "try_numeric" + val + cmp + c.param(strconv.FormatFloat(f, 'g', -1, 64)) + "::numeric", nil
	case "before", "after":
		t, err := instant(v)
		if err != nil {
			return "", err
		}
		cmp := " < "
		if op == "after" {
			cmp = " > "
		}
		return "try_timestamptz" + val + cmp + c.param(t), nil
	case "within":
		days, err := dayCount(v)
		if err != nil {
			return "", err
		}
		return "try_timestamptz" + val + " >= now() - make_interval(days => " + c.param(days) + "::int)", nil
	}
	return "", unsupported(op, "eq, neq, in, contains, exists, gt, lt, before, after, within")
}

func unsupported(op, allowed string) error {
	return fmt.Errorf("operator %q does not apply to this field; use one of %s", op, allowed)
}

func noValue(v json.RawMessage) error {
	if len(v) != 0 && string(v) != "null" && string(v) != "true" {
		return errors.New(`"exists" takes no value`)
	}
	return nil
}

func str(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errors.New("value must be a string")
	}
	return s, checkLen(s)
}

// scalar accepts a string, number or boolean and compares it in its JSON text form, the way
// attributes imported from CSV are stored.
func scalar(v json.RawMessage) (string, error) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return "", errors.New("value must be a string, number or boolean")
	}
	switch t := x.(type) {
	case string:
		return t, checkLen(t)
	case float64, bool:
		return strings.TrimSpace(string(v)), nil
	}
	return "", errors.New("value must be a string, number or boolean")
}

func strList(v json.RawMessage) ([]string, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil || len(raw) == 0 {
		return nil, errors.New("value must be a non-empty list")
	}
	if len(raw) > MaxListItems {
		return nil, fmt.Errorf("a list holds at most %d values", MaxListItems)
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		s, err := scalar(r)
		if err != nil {
			return nil, fmt.Errorf("list item %d: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

func checkLen(s string) error {
	if len(s) > MaxValueLen {
		return fmt.Errorf("value longer than %d bytes", MaxValueLen)
	}
	return nil
}

func instant(v json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New(`value must be a time like "2026-05-01" or "2026-05-01T10:00:00Z"`)
}

func dayCount(v json.RawMessage) (int, error) {
	var n int
	if err := json.Unmarshal(v, &n); err != nil || n < 1 || n > MaxDays {
		return 0, fmt.Errorf("value must be a whole number of days from 1 to %d", MaxDays)
	}
	return n, nil
}
