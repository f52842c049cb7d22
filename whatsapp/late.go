package whatsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// A send must leave in its throughput slot: one written later meets the next slots' sends in the
// same second, and Meta counts any second. WriteBy gives a request the latest time its first byte
// may reach the socket; the connection checks it at that write, after any dial or wait for a
// free connection, and refuses with ErrLate, having written nothing. The transport then closes
// that connection and does not retry (the request has no GetBody): the caller takes a new slot.

// ErrLate is a request not written because its time had passed. Nothing reached Meta.
var ErrLate = errors.New("whatsapp: the send's slot passed before it could be written")

type writeByKey struct{}

// WriteBy returns a context whose requests are written by t or not at all (ErrLate).
func WriteBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, writeByKey{}, t)
}

func writeByOf(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(writeByKey{}).(time.Time)
	return t, ok
}

// guardedConn is a connection whose next write may carry a deadline, set by the request about to
// be written on it (HTTP/1.1 writes one request at a time on a connection).
type guardedConn struct {
	net.Conn
	writeBy atomic.Int64 // Unix ns; 0: none
	refused atomic.Bool  // a late write was refused: the transport closes the connection
}

func (c *guardedConn) Write(p []byte) (int, error) {
	if by := c.writeBy.Swap(0); by != 0 && time.Now().UnixNano() > by {
		c.refused.Store(true)
		return 0, ErrLate
	}
	return c.Conn.Write(p)
}

// guardRequest arms the connection a request got with the request's deadline, or disarms it: a
// deadline left from a request that was never written must not refuse the next one. It answers
// the connection (nil when it is not a guarded one).
func guardRequest(ctx context.Context, conn net.Conn) *guardedConn {
	gc, ok := conn.(*guardedConn)
	if !ok {
		return nil
	}
	var by int64
	if t, ok := writeByOf(ctx); ok {
		by = t.UnixNano()
	}
	gc.writeBy.Store(by)
	return gc
}

// guardedTransport dials connections that can refuse a late write, plain or TLS. HTTP/2 is off:
// its streams share a connection and write from another goroutine, where the check could not
// tell one request's bytes from another's.
func guardedTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &guardedConn{Conn: c}, nil
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(raw, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return &guardedConn{Conn: tc}, nil
	}
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	return t
}
