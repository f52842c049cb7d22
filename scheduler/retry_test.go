package scheduler

import (
	"testing"
	"time"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/queries"
)

// Which failures go again, and when: only a temporary one, of a broadcast not cancelled whose
// policy has an attempt left before it expires, to a contact who exists and (for marketing) is
// still opted in; a utility template needs no opt-in.
func TestRetryDecision(t *testing.T) {
	t.Parallel()
	sent := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	code := func(c int32) *int32 { return &c }
	base := func() queries.UndecidedFailuresRow {
		return queries.UndecidedFailuresRow{ErrorCode: code(131000), FailedAt: sent.Add(time.Minute), LastAt: sent, FirstAt: sent,
			RetryPolicy: []byte(`{"mode":"smart","days":2}`), BroadcastStatus: queries.BroadcastStatusCompleted, Category: "marketing",
			ContactExists: true, OptedIn: true}
	}
	late := sent.Add(10 * time.Hour)
	cases := []struct {
		name string
		edit func(*queries.UndecidedFailuresRow)
		want time.Time // zero: not retried
	}{
		{"temporary", func(*queries.UndecidedFailuresRow) {}, sent.Add(16 * time.Hour)},
		{"marketing cap: 24 h after the failure", func(r *queries.UndecidedFailuresRow) { r.ErrorCode = code(131049) }, sent.Add(24*time.Hour + time.Minute)},
		{"not on WhatsApp", func(r *queries.UndecidedFailuresRow) { r.ErrorCode = code(131026) }, time.Time{}},
		{"stopped marketing", func(r *queries.UndecidedFailuresRow) { r.ErrorCode = code(131050) }, time.Time{}},
		{"no code", func(r *queries.UndecidedFailuresRow) { r.ErrorCode = nil }, time.Time{}},
		{"opted out since", func(r *queries.UndecidedFailuresRow) { r.OptedIn = false }, time.Time{}},
		{"utility, never opted in", func(r *queries.UndecidedFailuresRow) { r.OptedIn, r.Category = false, "utility" }, sent.Add(16 * time.Hour)},
		{"contact deleted", func(r *queries.UndecidedFailuresRow) { r.ContactExists = false }, time.Time{}},
		{"cancelled", func(r *queries.UndecidedFailuresRow) { r.BroadcastStatus = queries.BroadcastStatusCancelled }, time.Time{}},
		{"expires first", func(r *queries.UndecidedFailuresRow) { r.ExpiresAt = &late }, time.Time{}},
		{"no policy", func(r *queries.UndecidedFailuresRow) { r.RetryPolicy = nil }, time.Time{}},
		{"policy off", func(r *queries.UndecidedFailuresRow) { r.RetryPolicy = []byte(`{"mode":"off"}`) }, time.Time{}},
		{"all retries made", func(r *queries.UndecidedFailuresRow) { r.Retries = 3 }, time.Time{}},
	}
	j := &Jobs{Clock: clock.Real{}}
	for _, c := range cases {
		r := base()
		c.edit(&r)
		at, ok := j.retryAt(r)
		if ok != !c.want.IsZero() || ok && !at.Equal(c.want) {
			t.Errorf("%s: %v %t, want %v", c.name, at, ok, c.want)
		}
	}
}
