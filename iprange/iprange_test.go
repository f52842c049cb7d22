package iprange

import (
	"net/netip"
	"testing"
)

func TestParseAndContains(t *testing.T) {
	var ranges []netip.Prefix
	for _, v := range []string{" 203.0.113.7 ", "10.1.2.3/8", "2001:db8::/32", "::ffff:192.0.2.1"} {
		p, err := Parse(v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		ranges = append(ranges, p)
	}
	if ranges[1].String() != "10.0.0.0/8" || ranges[3].String() != "192.0.2.1/32" {
		t.Errorf("parsed: %v", ranges)
	}
	for ip, want := range map[string]bool{"203.0.113.7": true, "203.0.113.8": false, "10.200.0.1": true, "2001:db8::1": true,
		"192.0.2.1": true, "198.51.100.1": false} {
		if got := Contains(ranges, netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %v", ip, got)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "not an address", "10.0.0"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
