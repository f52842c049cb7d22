// Package policy is an account's sending policy, the rules every part that sends or decides
// whether to send reads (the worker, the webhooks, the scheduler, drips, broadcasts and the API):
// the account's settings (frequency cap, auto-pause thresholds, opt-out keywords), send windows
// (outside them are the quiet hours), Meta's messaging tiers, the quality-rating rules, and why a campaign paused.
package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dripcast/dripcast/invalid"
)

// Settings are an account's sending policies, kept in accounts.settings.
type Settings struct {
	// FrequencyCap skips contacts who already got Max marketing messages in the last Days days,
	// across all campaigns, with the reason frequency_cap.
	FrequencyCap *FrequencyCap `json:"frequency_cap,omitempty"`
	// AutoPauseFailureRate pauses a running broadcast whose failed share of sends passes it, once
	// AutoPauseMinSends were made (0 means DefaultAutoPauseFailureRate; 1 turns it off).
	AutoPauseFailureRate float64 `json:"auto_pause_failure_rate,omitempty"`
	// AutoPauseOptOutRate pauses a running broadcast when this share of its recipients opted out
	// in answer to it (0 means DefaultAutoPauseOptOutRate; 1 turns it off).
	AutoPauseOptOutRate float64 `json:"auto_pause_opt_out_rate,omitempty"`
	// YellowRateFactor slows marketing sends on a number whose quality rating is YELLOW, Meta's
	// warning before RED (0 means DefaultYellowRateFactor; 1 does not slow down).
	YellowRateFactor float64 `json:"yellow_rate_factor,omitempty"`
	// OptOutKeywords opt a contact out of marketing when a reply is exactly one of them (any
	// case); DefaultOptOutKeywords when empty.
	OptOutKeywords []string `json:"opt_out_keywords,omitempty"`
	// SendWindow is the account's default send window (outside it, its quiet hours): a new
	// broadcast or sequence that sets no window of its own gets this one.
	SendWindow *Window `json:"send_window,omitempty"`
	// ResendNotSent sends again, at once, a send whose outcome was unknown and that the grace
	// period concluded Meta never took (not_sent); without it, "retry the failed" does.
	ResendNotSent bool `json:"resend_not_sent,omitempty"`
	// Retry is the account's default retry policy: a new broadcast that sets none gets it.
	Retry *Retry `json:"retry,omitempty"`
	// Retention is how long the account keeps the content of what it sent and received.
	Retention *Retention `json:"retention,omitempty"`
}

// Retention: ContentDays after a message was due (once it is done sending), its content — a
// drip step's parameters and the triggering event's properties — is scrubbed, and so are the
// properties of events and integration deliveries received, and of enrollments finished, that
// long ago. Counts, statuses and times stay. 0 means DefaultContentDays.
type Retention struct {
	ContentDays int `json:"content_days,omitempty"`
}

// DefaultContentDays is how long content is kept when an account sets nothing.
const DefaultContentDays = 90

// ContentDays is the account's content retention, in days.
func (s Settings) ContentDays() int {
	if s.Retention == nil || s.Retention.ContentDays == 0 {
		return DefaultContentDays
	}
	return s.Retention.ContentDays
}

// DefaultOptOutKeywords are the replies that opt a contact out when an account names none.
var DefaultOptOutKeywords = []string{"STOP", "STOP ALL", "STOP PROMOTIONS", "UNSUBSCRIBE", "OPT OUT", "OPTOUT", "CANCEL"}

// Keywords are the account's opt-out keywords.
func (s Settings) Keywords() []string {
	if len(s.OptOutKeywords) == 0 {
		return DefaultOptOutKeywords
	}
	return s.OptOutKeywords
}

// FrequencyCap is at most Max marketing messages per contact per rolling Days days.
type FrequencyCap struct {
	Max  int `json:"max"`
	Days int `json:"days"`
}

// The failure check waits for enough sends to judge.
const (
	DefaultAutoPauseFailureRate = 0.5
	DefaultAutoPauseOptOutRate  = 0.1
	DefaultYellowRateFactor     = 0.5
	AutoPauseMinSends           = 100
)

// ParseSettings reads stored settings.
func ParseSettings(raw []byte) (Settings, error) {
	var s Settings
	if len(raw) == 0 {
		return s, nil
	}
	err := json.Unmarshal(raw, &s)
	return s, err
}

// Validate checks settings a client sends.
func (s Settings) Validate() error {
	if c := s.FrequencyCap; c != nil && (c.Max < 1 || c.Max > 100 || c.Days < 1 || c.Days > 90) {
		return invalid.Field("frequency_cap", "max must be 1 to 100 messages and days 1 to 90")
	}
	if s.AutoPauseFailureRate < 0 || s.AutoPauseFailureRate > 1 {
		return invalid.Field("auto_pause_failure_rate", "a share from 0 to 1 (1 turns the check off)")
	}
	if s.AutoPauseOptOutRate < 0 || s.AutoPauseOptOutRate > 1 {
		return invalid.Field("auto_pause_opt_out_rate", "a share from 0 to 1 (1 turns the check off)")
	}
	if s.YellowRateFactor < 0 || s.YellowRateFactor > 1 {
		return invalid.Field("yellow_rate_factor", "a share of the throughput from 0 to 1 (1 does not slow down)")
	}
	if len(s.OptOutKeywords) > 20 {
		return invalid.Field("opt_out_keywords", "at most 20")
	}
	for i, k := range s.OptOutKeywords {
		k = strings.ToUpper(strings.TrimSpace(k))
		if k == "" || len(k) > 40 {
			return invalid.Field("opt_out_keywords", "each keyword is 1 to 40 characters")
		}
		s.OptOutKeywords[i] = k
	}
	if s.SendWindow != nil {
		if _, err := s.SendWindow.Encode(); err != nil {
			return invalid.Within("send_window", err)
		}
	}
	if s.Retry != nil {
		if err := s.Retry.Validate(); err != nil {
			return invalid.Within("retry", err)
		}
	}
	if r := s.Retention; r != nil && (r.ContentDays < 1 || r.ContentDays > 3650) {
		return invalid.Field("retention.content_days", "1 to 3650 days")
	}
	return nil
}

// FailureThreshold is the failed share that pauses a broadcast.
func (s Settings) FailureThreshold() float64 {
	if s.AutoPauseFailureRate == 0 {
		return DefaultAutoPauseFailureRate
	}
	return s.AutoPauseFailureRate
}

// ShouldPause tells whether a broadcast with these outcomes should pause, and why: too many of
// its sends failed, or too many recipients opted out in answer to it.
func (s Settings) ShouldPause(failed, optedOut, attempted int64) (Pause, bool) {
	if attempted < AutoPauseMinSends {
		return Pause{}, false
	}
	if t := s.FailureThreshold(); t < 1 && float64(failed)/float64(attempted) > t {
		return Automatic(PausedForFailures, fmt.Sprintf("%d of %d sends failed (over %.0f%%)", failed, attempted, t*100)), true
	}
	t := s.AutoPauseOptOutRate
	if t == 0 {
		t = DefaultAutoPauseOptOutRate
	}
	if t < 1 && float64(optedOut)/float64(attempted) > t {
		return Automatic(PausedForOptOuts, fmt.Sprintf("%d of %d recipients opted out (over %.0f%%)", optedOut, attempted, t*100)), true
	}
	return Pause{}, false
}

// RateFactor is the share of a number's throughput a send may use: marketing slows down on a
// YELLOW number.
func (s Settings) RateFactor(quality, category string) float64 {
	if quality != "YELLOW" || category != "marketing" {
		return 1
	}
	if s.YellowRateFactor == 0 {
		return DefaultYellowRateFactor
	}
	return s.YellowRateFactor
}
