package iprange

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the connection's address, or, when that is a trusted proxy, the last address in
// X-Forwarded-For that is not one: earlier entries can be forged by the client.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ip := Remote(r)
	if !Contains(trusted, ip) {
		return ip
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip
		}
		if ip = hop.Unmap(); !Contains(trusted, ip) {
			return ip
		}
	}
	return ip
}

// Remote is the address of the connection itself.
func Remote(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}
