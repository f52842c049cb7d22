package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dripcast/dripcast/invalid"
)

// Window is when sending is allowed, in each contact's own time zone: days of the week and an
// hour range. A message due outside it waits until it opens.
type Window struct {
	Days  []string `json:"days,omitempty"` // mon … sun; all days when empty
	Start string   `json:"start"`          // "09:00"
	End   string   `json:"end"`            // "21:00", after Start
}

var (
	weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	clock    = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// ParseClock reads a wall-clock time written "HH:MM" (00:00 to 23:59) as the time since midnight.
func ParseClock(s string) (time.Duration, bool) {
	if !clock.MatchString(s) {
		return 0, false
	}
	var hh, mm int
	fmt.Sscanf(s, "%d:%d", &hh, &mm)
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

// Encode checks the window and returns it as the SQL functions read it, with ISO day numbers. Its
// errors name fields inside the window: place them with invalid.Within.
func (w Window) Encode() (json.RawMessage, error) {
	if !clock.MatchString(w.Start) || !(clock.MatchString(w.End) || w.End == "24:00") || w.End <= w.Start {
		return nil, invalid.Input(`start and end are times like "09:00" and "21:00", start before end`)
	}
	stored := struct {
		Days  []int  `json:"days,omitempty"`
		Start string `json:"start"`
		End   string `json:"end"`
	}{Start: w.Start, End: w.End}
	if w.End == "24:00" {
		stored.End = "23:59:59.999999"
	}
	for _, d := range w.Days {
		i := indexOf(weekdays, strings.ToLower(strings.TrimSpace(d)))
		if i < 0 {
			return nil, invalid.Field("days", "days are mon, tue, wed, thu, fri, sat, sun")
		}
		stored.Days = append(stored.Days, i+1)
	}
	return json.Marshal(stored)
}

// DecodeWindow reads a stored window back.
func DecodeWindow(raw json.RawMessage) *Window {
	if len(raw) == 0 {
		return nil
	}
	var stored struct {
		Days       []int
		Start, End string
	}
	if json.Unmarshal(raw, &stored) != nil {
		return nil
	}
	w := &Window{Start: stored.Start, End: stored.End}
	if strings.HasPrefix(w.End, "23:59:59") {
		w.End = "24:00"
	}
	for _, d := range stored.Days {
		if d >= 1 && d <= 7 {
			w.Days = append(w.Days, weekdays[d-1])
		}
	}
	return w
}

func indexOf(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

// Open says whether t is inside the window in the zone loc.
func (w Window) Open(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	if len(w.Days) > 0 && indexOf(w.Days, weekdays[(int(l.Weekday())+6)%7]) < 0 {
		return false
	}
	hm := l.Format("15:04")
	return hm >= w.Start && (hm < w.End || w.End == "24:00")
}

// Next is the first instant at or after t inside the window in the zone loc (t when it is
// open). Like the SQL next_send_window, it looks a week ahead.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if w.Open(t, loc) {
		return t
	}
	l := t.In(loc)
	start, _ := ParseClock(w.Start)
	// The wall-clock hour and minute, not midnight plus a duration: a day that changes to or from
	// daylight time opens at its own 09:00.
	hh, mm := int(start/time.Hour), int(start%time.Hour/time.Minute)
	for i := 0; i <= 7; i++ {
		opens := time.Date(l.Year(), l.Month(), l.Day()+i, hh, mm, 0, 0, loc)
		if !opens.Before(t) && w.Open(opens, loc) {
			return opens
		}
	}
	return t
}
