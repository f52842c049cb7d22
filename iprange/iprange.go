// Package iprange reads the addresses and ranges people write for allowed callers and trusted
// proxies, and tells whether an address is in such a list.
package iprange

import (
	"net/netip"
	"strings"
)

// Parse reads an address ("203.0.113.7", one address) or a CIDR range ("10.0.0.0/8"), IPv4 or
// IPv6.
func Parse(v string) (netip.Prefix, error) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Contains tells whether ip is in one of the ranges.
func Contains(ranges []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ranges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
