package policy

import (
	"encoding/json"
	"time"

	"github.com/dripcast/dripcast/invalid"
)

// Retry is a broadcast's retry policy: what Dripcast does on its own with a message whose failure
// a later attempt may mend (Meta's temporary errors, the per-user marketing cap). An account's
// default applies to broadcasts that set none; without either, failures stay failed.
type Retry struct {
	// Mode is RetrySmart (Dripcast picks the times, up to Days after the send), RetryManual (Hours
	// after each previous attempt) or RetryOff.
	Mode string `json:"mode"`
	// Days: smart's last retry is at most this many days after the send, 2 to 8 (default 3).
	Days int `json:"days,omitempty"`
	// Hours: manual's 1 to 3 retries, each this many hours after the previous attempt, 6 to 24;
	// the first at least 12 after the send.
	Hours []int `json:"hours,omitempty"`
}

// The retry modes.
const (
	RetrySmart  = "smart"
	RetryManual = "manual"
	RetryOff    = "off"
)

// Smart retries: at most this many, the default horizon in days.
const (
	SmartRetries     = 3
	DefaultRetryDays = 3
)

// Validate checks a policy a person sent and fills in smart's default horizon.
func (r *Retry) Validate() error {
	switch r.Mode {
	case RetryOff:
		r.Days, r.Hours = 0, nil
	case RetrySmart:
		if r.Days == 0 {
			r.Days = DefaultRetryDays
		}
		if r.Days < 2 || r.Days > 8 || len(r.Hours) > 0 {
			return invalid.Field("days", "smart retries end 2 to 8 days after the send (days), and take no hours")
		}
	case RetryManual:
		if len(r.Hours) < 1 || len(r.Hours) > 3 || r.Days != 0 {
			return invalid.Field("hours", "manual retries are 1 to 3 waits in hours (hours), and take no days")
		}
		for i, h := range r.Hours {
			if i == 0 && h < 12 || h < 6 || h > 24 {
				return invalid.Field("hours", "the first retry is 12 to 24 hours after the send, each later one 6 to 24 hours after the previous")
			}
		}
	default:
		return invalid.Field("mode", `the mode is "smart", "manual" or "off"`)
	}
	return nil
}

// On tells whether the policy retries at all.
func (r *Retry) On() bool { return r != nil && (r.Mode == RetrySmart || r.Mode == RetryManual) }

// DecodeRetry reads a stored policy (nil when none).
func DecodeRetry(raw []byte) *Retry {
	if len(raw) == 0 {
		return nil
	}
	var r Retry
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	return &r
}

// Attempts are the times of a message's attempts so far.
type Attempts struct {
	First  time.Time // the first send
	Last   time.Time // the latest attempt
	Failed time.Time // when the latest attempt failed
	Done   int       // retries made (0: only the first send)
}

// Next is when to make retry number a.Done+1, given the least wait the failure asks for (24 h
// after Meta's per-user marketing cap), or false when the policy has none left. Smart retries go at
// equal steps up to the horizon, each step a whole number of days plus or minus 8 hours, so that
// the attempts land at three different hours of the contact's day.
func (r *Retry) Next(a Attempts, wait time.Duration) (time.Time, bool) {
	k := a.Done + 1
	var at, last time.Time
	switch {
	case !r.On():
		return time.Time{}, false
	case r.Mode == RetrySmart:
		horizon := time.Duration(r.Days) * 24 * time.Hour
		step := horizon / SmartRetries
		if step%(24*time.Hour) == 0 {
			step -= 8 * time.Hour
		}
		if k > SmartRetries {
			return time.Time{}, false
		}
		at, last = a.First.Add(time.Duration(k)*step), a.First.Add(horizon)
	default:
		if k > len(r.Hours) {
			return time.Time{}, false
		}
		at = a.Last.Add(time.Duration(r.Hours[k-1]) * time.Hour)
	}
	if least := a.Failed.Add(wait); at.Before(least) {
		at = least
	}
	if !last.IsZero() && at.After(last) {
		return time.Time{}, false
	}
	return at, true
}
