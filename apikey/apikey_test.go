package apikey

import "testing"

func TestNewParseMatches(t *testing.T) {
	k := New()
	prefix, secret, ok := Parse(k.Token)
	if !ok || prefix != k.Prefix || !Matches(secret, k.Hash) {
		t.Fatalf("a new key does not check out: %q", k.Token)
	}
	if New().Token == k.Token {
		t.Fatal("two keys are equal")
	}
	if Matches(secret[:len(secret)-1]+"x", k.Hash) {
		t.Fatal("a changed secret matches")
	}
	for _, bad := range []string{"", "dc_", "dc_abc_def", "xx_" + k.Token[3:], k.Token + "x", k.Token[:20]} {
		if _, _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
