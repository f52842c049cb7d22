//go:build !linux

package metasim

import "net"

// stampListener leaves l as it is: only Linux gives receive times here.
func stampListener(l net.Listener) net.Listener { return l }
