//go:build linux

package metasim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A request counts when its bytes came, not when metasim got round to it: the server starts
// 200 ms after the first request was written, and a second follows on the same connection.
func TestArrivalIsWhenTheBytesCame(t *testing.T) {
	sim := New(Config{})
	t.Cleanup(sim.Close)
	sim.AddNumber(Number{PhoneNumberID: "1001", WABAID: "2001", DisplayNumber: "+1 555 010 0001", Token: "tok", MPS: 80, Portfolio: "p1"})
	sim.AddTemplate(Template{Name: "receipt", Language: "en", Category: "utility"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	sl := Stamp(srv, l)
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	answers := bufio.NewReader(conn)
	send := func(to string) time.Time {
		t.Helper()
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":%q,"type":"template","template":{"name":"receipt","language":{"code":"en"}}}`, to)
		req := fmt.Sprintf("POST /v23.0/1001/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		written := time.Now()
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		return written
	}
	answer := func() {
		t.Helper()
		res, err := http.ReadResponse(answers, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
	}

	first := send("14155550101")
	time.Sleep(200 * time.Millisecond)
	served := time.Now()
	go func() { _ = srv.Serve(sl) }()
	answer()
	time.Sleep(50 * time.Millisecond)
	second := send("14155550102")
	answer()

	recs := sim.Records(0, "")
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if at := recs[0].At; at.Before(first.Add(-time.Millisecond)) || !at.Before(served.Add(-100*time.Millisecond)) {
		t.Errorf("first request written at %s, served from %s, counted at %s", first.Format(time.StampMicro), served.Format(time.StampMicro), at.Format(time.StampMicro))
	}
	if at := recs[1].At; at.Before(second.Add(-time.Millisecond)) || at.After(second.Add(50*time.Millisecond)) {
		t.Errorf("second request written at %s, counted at %s", second.Format(time.StampMicro), at.Format(time.StampMicro))
	}
}
