package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// Any body: checkJSON never panics, and a body it lets through holds no NUL character anywhere
// once decoded (so it cannot fail a write with a 500).
func FuzzCheckJSON(f *testing.F) {
	f.Add([]byte(`{"phone":"+14155550100","name":"A\u0000"}`))
	f.Add([]byte(`{"a":[{"b":"\u0000"}],"A":1}`))
	f.Add([]byte(`{"k\u0000":1}`))
	f.Add([]byte(`[1,"x",{"y":null}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		refused := checkJSON(raw) != nil
		var v any
		if json.Unmarshal(raw, &v) != nil || refused {
			return
		}
		if hasNUL(v) {
			t.Fatalf("let a NUL through: %q", raw)
		}
	})
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	for body, field := range map[string]string{
		`{"phone":"A","PHONE":"C"}`:             "PHONE",
		`{"a":{"x":1,"x":2}}`:                   "a.x",
		`{"list":[{"n":"ok"},{"n":"\u0000"}]}`:  "list[1].n",
		`{"ok":"no \\u0000 here","k":"\u0000"}`: "k",
	} {
		if err := checkJSON([]byte(body)); err == nil || err.Field != field {
			t.Errorf("%s: %v, want field %s", body, err, field)
		}
	}
	for _, body := range []string{`{"a":{"x":1},"b":{"x":2}}`, `{"ok":"no \\u0000 here"}`, `not json`, ``} {
		if err := checkJSON([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}
