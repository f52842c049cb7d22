package whatsapp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A send whose time passes before its first byte is written is refused with ErrLate and reaches
// nobody: whether it is late before the call, or only after a slow dial; on time, it goes.
func TestLateSendIsNeverWritten(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		_, _ = w.Write([]byte(`{"messages":[{"id":"wamid.1"}]}`))
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "v23.0", 2*time.Second)
	tr := c.http.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		time.Sleep(50 * time.Millisecond) // a slow dial: the slot passes meanwhile
		return dial(ctx, network, addr)
	}
	send := func(ctx context.Context) error {
		_, err := c.SendTemplate(ctx, "tok", "1", "14155550100", NewTemplate("t", "en", nil), "")
		return err
	}

	if err := send(WriteBy(context.Background(), time.Now().Add(-time.Millisecond))); !errors.Is(err, ErrLate) {
		t.Fatalf("late before the call: %v", err)
	}
	if err := send(WriteBy(context.Background(), time.Now().Add(10*time.Millisecond))); !errors.Is(err, ErrLate) {
		t.Fatalf("late after a slow dial: %v", err)
	}
	if n := got.Load(); n != 0 {
		t.Fatalf("the server got %d late requests", n)
	}
	if err := send(WriteBy(context.Background(), time.Now().Add(time.Second))); err != nil {
		t.Fatalf("on time: %v", err)
	}
	if err := send(context.Background()); err != nil { // on the connection the last one armed and used
		t.Fatalf("without a deadline: %v", err)
	}
	if n := got.Load(); n != 2 {
		t.Fatalf("the server got %d requests, want 2", n)
	}
}
