package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/dripcast/dripcast/testenv"
)

func TestWindowEncode(t *testing.T) {
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

// The window functions, in the contact's zone and across New York's change to standard time on
// Sunday 2030-11-03.
func TestNextSendWindow(t *testing.T) {
	pool := testenv.DB(t)
	weekdays, _ := Window{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}.Encode()
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
		if want, _ := time.Parse(time.RFC3339, c.want); !got.Equal(want) {
			t.Errorf("%s in %s: next window %s, want %s", c.at, c.zone, got.UTC().Format(time.RFC3339), c.want)
		}
	}
}
