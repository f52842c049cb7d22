package drip

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Filter is a condition on an event's properties: {"property": "total", "op": "gte", "value": 50}.
// Property is a dotted path into nested objects ("customer.city").
type Filter struct {
	Property string          `json:"property"`
	Op       string          `json:"op"`
	Value    json.RawMessage `json:"value,omitempty"`
}

var filterOps = []string{"eq", "neq", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists"}

func checkFilters(fs []Filter) error {
	if len(fs) > MaxFilters {
		return bad("trigger.filter", "at most %d conditions", MaxFilters)
	}
	for i, f := range fs {
		field := fmt.Sprintf("trigger.filter[%d]", i)
		if f.Property == "" || len(f.Property) > 200 {
			return bad(field+".property", "name a property, at most 200 characters")
		}
		if !slices.Contains(filterOps, f.Op) {
			return bad(field+".op", "op is one of %s", strings.Join(filterOps, ", "))
		}
		needsValue := f.Op != "exists" && f.Op != "not_exists"
		if needsValue != (len(f.Value) > 0) {
			return bad(field+".value", "%s takes %s value", f.Op, map[bool]string{true: "a", false: "no"}[needsValue])
		}
		if needsValue {
			var v any
			if err := json.Unmarshal(f.Value, &v); err != nil {
				return bad(field+".value", "not a JSON value")
			}
		}
	}
	return nil
}

// Match says whether properties pass every filter.
func Match(fs []Filter, props map[string]any) bool {
	for _, f := range fs {
		if !f.match(Lookup(props, f.Property)) {
			return false
		}
	}
	return true
}

// Lookup reads a dotted path ("customer.city") in nested objects; nil when it is missing.
func Lookup(props map[string]any, path string) any {
	var cur any = props
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

func (f Filter) match(got any) bool {
	switch f.Op {
	case "exists":
		return got != nil
	case "not_exists":
		return got == nil
	}
	var want any
	_ = json.Unmarshal(f.Value, &want)
	switch f.Op {
	case "eq":
		return equal(got, want)
	case "neq":
		return !equal(got, want)
	case "contains":
		if list, ok := got.([]any); ok {
			return slices.ContainsFunc(list, func(v any) bool { return equal(v, want) })
		}
		s, ok := got.(string)
		w, wok := want.(string)
		return ok && wok && strings.Contains(strings.ToLower(s), strings.ToLower(w))
	}
	a, aok := number(got)
	b, bok := number(want)
	if !aok || !bok {
		return false
	}
	switch f.Op {
	case "gt":
		return a > b
	case "gte":
		return a >= b
	case "lt":
		return a < b
	}
	return a <= b
}

// equal compares JSON values; numbers given as strings ("49.90", as shops send prices) compare
// as numbers.
func equal(a, b any) bool {
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			return x == y
		}
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return a == nil && b == nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}
