package broadcast

import (
	"encoding/json"
	"fmt"
)

// Settings are an account's sending policies, kept in accounts.settings.
type Settings struct {
	// FrequencyCap skips contacts who already got Max marketing messages in the last Days days,
	// across all campaigns, with the reason frequency_cap.
	FrequencyCap *FrequencyCap `json:"frequency_cap,omitempty"`
	// AutoPauseFailureRate pauses a running broadcast whose failed share of sends passes it, once
	// AutoPauseMinSends were made (0 means DefaultAutoPauseFailureRate; 1 turns it off).
	AutoPauseFailureRate float64 `json:"auto_pause_failure_rate,omitempty"`
}

// FrequencyCap is at most Max marketing messages per contact per rolling Days days.
type FrequencyCap struct {
	Max  int `json:"max"`
	Days int `json:"days"`
}

// The failure check waits for enough sends to judge.
const (
	DefaultAutoPauseFailureRate = 0.5
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
		return &InputError{"frequency_cap", "max must be 1 to 100 messages and days 1 to 90"}
	}
	if s.AutoPauseFailureRate < 0 || s.AutoPauseFailureRate > 1 {
		return &InputError{"auto_pause_failure_rate", "a share from 0 to 1 (1 turns the check off)"}
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

// TooManyFailures tells whether a broadcast with these sends should pause, and why.
func (s Settings) TooManyFailures(failed, attempted int64) (string, bool) {
	t := s.FailureThreshold()
	if attempted < AutoPauseMinSends || t >= 1 || float64(failed)/float64(attempted) <= t {
		return "", false
	}
	return fmt.Sprintf("paused automatically: %d of %d sends failed (over %.0f%%)", failed, attempted, t*100), true
}
