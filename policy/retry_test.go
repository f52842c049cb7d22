package policy

import (
	"testing"
	"time"
)

func TestRetryValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   Retry
		ok   bool
		days int
	}{
		{Retry{Mode: RetrySmart}, true, DefaultRetryDays},
		{Retry{Mode: RetrySmart, Days: 2}, true, 2},
		{Retry{Mode: RetrySmart, Days: 8}, true, 8},
		{Retry{Mode: RetrySmart, Days: 1}, false, 0},
		{Retry{Mode: RetrySmart, Days: 9}, false, 0},
		{Retry{Mode: RetrySmart, Hours: []int{12}}, false, 0},
		{Retry{Mode: RetryManual, Hours: []int{12}}, true, 0},
		{Retry{Mode: RetryManual, Hours: []int{24, 6, 24}}, true, 0},
		{Retry{Mode: RetryManual, Hours: []int{11}}, false, 0},     // the first at least 12 h after the send
		{Retry{Mode: RetryManual, Hours: []int{12, 5}}, false, 0},  // later ones at least 6 h
		{Retry{Mode: RetryManual, Hours: []int{12, 25}}, false, 0}, // at most 24 h
		{Retry{Mode: RetryManual, Hours: []int{12, 6, 6, 6}}, false, 0},
		{Retry{Mode: RetryManual}, false, 0},
		{Retry{Mode: RetryOff, Days: 3}, true, 0},
		{Retry{Mode: "often"}, false, 0},
	}
	for _, c := range cases {
		err := c.in.Validate()
		if (err == nil) != c.ok || c.ok && c.in.Days != c.days {
			t.Errorf("%+v: %v (days %d), want ok %t with days %d", c.in, err, c.in.Days, c.ok, c.days)
		}
	}
}

// Smart retries go at equal steps up to the horizon, at three different hours of the contact's
// day whatever the horizon, never sooner than the failure's least wait, and stop there.
func TestSmartRetryTimes(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for days := 2; days <= 8; days++ {
		r := Retry{Mode: RetrySmart, Days: days}
		hours := map[int]bool{}
		last := first
		for k := range SmartRetries {
			at, ok := r.Next(Attempts{First: first, Last: last, Failed: last.Add(time.Minute), Done: k}, time.Minute)
			if !ok || !at.After(last) || at.After(first.Add(time.Duration(days)*24*time.Hour)) {
				t.Fatalf("days %d, retry %d: %v %t", days, k+1, at, ok)
			}
			hours[at.Hour()] = true
			last = at
		}
		if len(hours) != SmartRetries {
			t.Errorf("days %d: retries at hours %v, want %d different hours", days, hours, SmartRetries)
		}
		if _, ok := r.Next(Attempts{First: first, Last: last, Failed: last, Done: SmartRetries}, 0); ok {
			t.Errorf("days %d: a retry after the last", days)
		}
	}
	r := Retry{Mode: RetrySmart, Days: 2}
	at, ok := r.Next(Attempts{First: first, Last: first, Failed: first.Add(time.Hour)}, 24*time.Hour)
	if !ok || !at.Equal(first.Add(25*time.Hour)) {
		t.Errorf("after a 131049: %v %t, want 24 h after the failure", at, ok)
	}
	if _, ok := r.Next(Attempts{First: first, Last: first.Add(40 * time.Hour), Failed: first.Add(40 * time.Hour), Done: 2}, 24*time.Hour); ok {
		t.Error("a retry the least wait pushes past the horizon")
	}
}

func TestManualRetryTimes(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := Retry{Mode: RetryManual, Hours: []int{12, 6}}
	at, ok := r.Next(Attempts{First: first, Last: first, Failed: first.Add(time.Minute)}, time.Minute)
	if !ok || !at.Equal(first.Add(12*time.Hour)) {
		t.Errorf("first retry: %v %t", at, ok)
	}
	second, ok := r.Next(Attempts{First: first, Last: at, Failed: at.Add(time.Minute), Done: 1}, 24*time.Hour)
	if !ok || !second.Equal(at.Add(time.Minute+24*time.Hour)) {
		t.Errorf("second retry after a 131049: %v %t, want 24 h after the failure", second, ok)
	}
	if _, ok := r.Next(Attempts{First: first, Last: second, Failed: second, Done: 2}, 0); ok {
		t.Error("a third retry of two")
	}
	var off *Retry
	if _, ok := off.Next(Attempts{First: first, Last: first, Failed: first}, 0); ok || off.On() {
		t.Error("no policy retries")
	}
}
