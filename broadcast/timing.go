package broadcast

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// Timing is when a broadcast sends and how fast: now, at one instant (SendAt), or at a
// wall-clock time on a day in each contact's own zone (LocalDate and LocalTime).
type Timing struct {
	SendAt    *time.Time `json:"send_at"`
	LocalDate string     `json:"local_date"`
	LocalTime string     `json:"local_time"`
	RateCap   *int32     `json:"rate_cap"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// earliestZone is the first zone to reach a wall-clock time (Kiribati's Line Islands): a
// local-time broadcast starts there, and each contact's message waits for its own zone.
var earliestZone = time.FixedZone("UTC+14", 14*3600)

// Apply checks the timing and writes it into p; now is the send time of a broadcast with none.
func (t Timing) Apply(p *queries.CreateBroadcastParams, now time.Time) error {
	switch {
	case t.LocalTime != "" || t.LocalDate != "":
		if t.SendAt != nil {
			return invalid.Field("send_at", "give send_at or local_date with local_time, not both")
		}
		day, err := time.Parse(time.DateOnly, t.LocalDate)
		at, ok := policy.ParseClock(t.LocalTime)
		if err != nil || !ok {
			return invalid.Field("local_time", `a local-time send needs local_date "2026-12-01" and local_time "10:00"`)
		}
		first := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, earliestZone).Add(at)
		p.SendAt = &first
		p.LocalDate = pgtype.Date{Time: day, Valid: true}
		p.LocalTime = pgtype.Time{Microseconds: at.Microseconds(), Valid: true}
	case t.SendAt != nil:
		p.SendAt = t.SendAt
	default:
		p.SendAt = &now
	}
	if t.RateCap != nil && (*t.RateCap < 1 || *t.RateCap > 1000) {
		return invalid.Field("rate_cap", "rate_cap must be 1 to 1000 messages a second")
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(*p.SendAt) {
		return invalid.Field("expires_at", "expires_at must come after the send time")
	}
	p.RateCap, p.ExpiresAt = t.RateCap, t.ExpiresAt
	return nil
}
