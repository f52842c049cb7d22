// Package clock gives the drip engine its time. Production runs on the real clock; tests and the
// demo run a scaled clock so that a sequence's hours and days pass in seconds.
package clock

import "time"

// Clock tells the time.
type Clock interface {
	Now() time.Time
	// Of is the clock's time at a wall-clock instant (a message's sent_at, say).
	Of(wall time.Time) time.Time
	// Wall is the wall-clock instant at which the clock shows t (Of's inverse): when a time the
	// clock gave is due in the database.
	Wall(t time.Time) time.Time
}

// Real is the wall clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// Of is wall itself.
func (Real) Of(wall time.Time) time.Time { return wall }

// Wall is t itself.
func (Real) Wall(t time.Time) time.Time { return t }

// Scaled runs factor times faster than the wall clock from the moment it is made: with factor
// 3600 an hour passes every second. Only the drip engine's own times (enrollment, step times,
// cooling) and the waits between a broadcast's retries follow it; message timestamps and the
// pause of a sequence keep the database's clock.
type Scaled struct {
	start  time.Time
	factor float64
}

// NewScaled starts a scaled clock at the current time.
func NewScaled(factor float64) *Scaled { return &Scaled{start: time.Now(), factor: factor} }

// Now is the scaled time.
func (s *Scaled) Now() time.Time { return s.Of(time.Now()) }

// Of is the scaled time at a wall-clock instant.
func (s *Scaled) Of(wall time.Time) time.Time {
	return s.start.Add(time.Duration(float64(wall.Sub(s.start)) * s.factor))
}

// Wall is the wall-clock instant at which the scaled clock shows t.
func (s *Scaled) Wall(t time.Time) time.Time {
	return s.start.Add(time.Duration(float64(t.Sub(s.start)) / s.factor))
}
