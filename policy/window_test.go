package policy

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dripcast/dripcast/testenv"
)

func TestWindowEncode(t *testing.T) {
	t.Parallel()
	raw, err := Window{Days: []string{"Mon", "fri"}, Start: "09:00", End: "21:00"}.Encode()
	if err != nil || string(raw) != `{"days":[1,5],"start":"09:00","end":"21:00"}` {
		t.Fatalf("%s %v", raw, err)
	}
	if w := DecodeWindow(raw); w.Start != "09:00" || len(w.Days) != 2 || w.Days[1] != "fri" {
		t.Fatalf("decode: %+v", w)
	}
	for _, bad := range []Window{{Start: "21:00", End: "09:00"}, {Start: "9", End: "10:00"}, {Days: []string{"funday"}, Start: "09:00", End: "10:00"}} {
		if _, err := bad.Encode(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The window functions, in SQL and in Go, in the contact's zone and across New York's change to
// standard time on Sunday 2030-11-03.
func TestNextSendWindow(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	w := Window{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}
	weekdays, _ := w.Encode()
	cases := []struct {
		at, zone, want string
	}{
		{"2030-10-30T15:00:00Z", "America/New_York", "2030-10-30T15:00:00Z"}, // Wed 11:00 EDT: inside
		{"2030-10-30T22:00:00Z", "America/New_York", "2030-10-31T13:00:00Z"}, // Wed 18:00 EDT: Thu 09:00 EDT
		{"2030-11-01T22:00:00Z", "America/New_York", "2030-11-04T14:00:00Z"}, // Fri evening: Mon 09:00 EST
		{"2030-11-02T03:00:00Z", "Asia/Kolkata", "2030-11-04T03:30:00Z"},     // Sat 08:30 IST: Mon 09:00 IST
		{"2030-11-04T02:00:00Z", "Asia/Kolkata", "2030-11-04T03:30:00Z"},     // Mon 07:30 IST: 09:00
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.at)
		var got time.Time
		if err := pool.QueryRow(context.Background(), "SELECT next_send_window($1, $2, $3)", at, c.zone, weekdays).Scan(&got); err != nil {
			t.Fatal(err)
		}
		want, _ := time.Parse(time.RFC3339, c.want)
		if !got.Equal(want) {
			t.Errorf("%s in %s: next window %s, want %s", c.at, c.zone, got.UTC().Format(time.RFC3339), c.want)
		}
		loc, _ := time.LoadLocation(c.zone)
		if next := w.Next(at, loc); !next.Equal(want) {
			t.Errorf("Go: %s in %s: next window %s, want %s", c.at, c.zone, next.UTC().Format(time.RFC3339), c.want)
		}
	}
}

// The drip engine computes windows in Go, the feeder in SQL: they must agree everywhere.
func TestWindowGoAgreesWithSQL(t *testing.T) {
	t.Parallel()
	pool := testenv.DB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []string{"America/New_York", "Asia/Kolkata", "Europe/London", "Australia/Lord_Howe", "UTC"}
	windows := []Window{{Start: "09:00", End: "21:00"}, {Days: []string{"sat", "sun"}, Start: "10:30", End: "12:00"},
		{Days: []string{"wed"}, Start: "00:00", End: "24:00"}, {Start: "01:30", End: "03:00"}}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 400 {
		at := base.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Minute)
		zone, w := zones[rng.IntN(len(zones))], windows[rng.IntN(len(windows))]
		raw, _ := w.Encode()
		var open bool
		var next time.Time
		if err := pool.QueryRow(context.Background(), "SELECT in_send_window($1, $2, $3), next_send_window($1, $2, $3)",
			at, zone, raw).Scan(&open, &next); err != nil {
			t.Fatal(err)
		}
		loc, _ := time.LoadLocation(zone)
		if w.Open(at, loc) != open || !w.Next(at, loc).Equal(next) {
			t.Errorf("%s in %s, %+v: SQL open %v next %s; Go open %v next %s", at.Format(time.RFC3339), zone, w,
				open, next.UTC().Format(time.RFC3339), w.Open(at, loc), w.Next(at, loc).UTC().Format(time.RFC3339))
		}
	}
}
