package metasim

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Meta counts a number's throughput where requests reach it. metasim shares a machine's cores
// with what it tests: its handlers can start tens of milliseconds after a request's bytes came
// (the Go scheduler, a garbage collection, a CPU hog), and then take the requests that waited as
// one bunch. Counted at the handler, a sender that wrote every request on time would seem to
// burst. Stamp makes metasim count each request when the kernel received it instead.

// Stamp sets srv to take each request's arrival from the kernel's receive time of its bytes
// and returns l wrapped to record it. Where the system gives no receive times, a request
// arrives when its handler starts.
func Stamp(srv *http.Server, l net.Listener) net.Listener {
	connContext := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if connContext != nil {
			ctx = connContext(ctx, c)
		}
		if sc, ok := c.(*stampedConn); ok {
			ctx = context.WithValue(ctx, stampedConnKey{}, sc)
		}
		return ctx
	}
	return stampListener(l)
}

type stampedConnKey struct{}

// stampedConn is a connection whose reads note when the kernel received the bytes they return.
type stampedConn struct {
	net.Conn
	read func(p []byte) (int, time.Time, error)
	last atomic.Int64 // Unix nanoseconds of the latest read's bytes; 0 before any
}

func (c *stampedConn) Read(p []byte) (int, error) {
	n, at, err := c.read(p)
	if !at.IsZero() {
		c.last.Store(at.UnixNano())
	}
	return n, err
}

// arrival is when r's bytes reached the kernel, or now.
func arrival(r *http.Request) time.Time {
	if sc, ok := r.Context().Value(stampedConnKey{}).(*stampedConn); ok {
		if ns := sc.last.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
	}
	return time.Now()
}
