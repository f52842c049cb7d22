// Package drip runs drip sequences: it validates their definitions, enrolls contacts when events
// arrive, and advances each enrollment step by step, writing one message row per step for the
// feeder and the workers (the broadcasts' path) to send.
package drip

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/segment"
	"github.com/dripcast/dripcast/templates"
)

// Limits on one definition.
const (
	MaxSteps   = 50
	MaxFilters = 20
	MaxDelay   = 366 * 24 * time.Hour
	// DeliveryWait is how long a step that needs the previous one delivered waits for it.
	DeliveryWait = 72 * time.Hour
)

// Definition is what a sequence does, stored per version.
type Definition struct {
	Trigger          *Trigger       `json:"trigger"`         // nil: enrolled by the API only
	StartCondition   *segment.Rule  `json:"start_condition"` // who may enter
	Exit             Exit           `json:"exit"`
	RunOnce          *bool          `json:"run_once"`      // default true
	ReentryAfter     *Delay         `json:"reentry_after"` // with run_once false: the cooling period
	RequireDelivered bool           `json:"require_delivered"`
	TimeZone         string         `json:"time_zone"` // "contact" (default) or an IANA zone
	SendWindow       *policy.Window `json:"send_window"`
	Steps            []Step         `json:"steps"`
}

// Trigger starts the sequence for the contact of an event whose properties pass the filter.
type Trigger struct {
	Event  string   `json:"event"`
	Filter []Filter `json:"filter,omitempty"`
}

// Exit says when an enrolled contact leaves before the last step.
type Exit struct {
	OnReply  bool  `json:"on_reply"`
	OnOptOut bool  `json:"on_opt_out"` // forced on when a step is a marketing template
	Success  *Stop `json:"success,omitempty"`
	Failure  *Stop `json:"failure,omitempty"`
}

// Stop is a stop condition: the contact matches the rules (checked before each step) or one of
// the events happens to the contact.
type Stop struct {
	Rules  *segment.Rule `json:"rules,omitempty"`
	Events []string      `json:"events,omitempty"`
}

// Step is one template send.
type Step struct {
	TemplateID int64             `json:"template_id"`
	Delay      Delay             `json:"delay"`
	DelayFrom  string            `json:"delay_from"` // "previous" (default) or "enrollment"
	Parameters templates.Mapping `json:"parameters,omitempty"`
	Condition  *segment.Rule     `json:"condition,omitempty"` // contacts who do not match skip the step
	SendWindow *policy.Window    `json:"send_window,omitempty"`
}

// Delay is an amount of minutes, hours or days. Days keep the wall-clock time in the sequence's
// zone across daylight-saving changes; minutes and hours are exact durations.
type Delay struct {
	Amount int    `json:"amount"`
	Unit   string `json:"unit"`
}

func bad(field, format string, args ...any) error {
	return invalid.Field(field, format, args...)
}

var eventNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,4}$`)

// ValidEventName says whether s can name an event: "order.placed", "cart.abandoned".
func ValidEventName(s string) bool { return len(s) <= 100 && eventNameRE.MatchString(s) }

// Parse decodes a stored definition.
func Parse(raw []byte) (*Definition, error) {
	var d Definition
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Once says whether a contact may go through the sequence only once.
func (d *Definition) Once() bool { return d.RunOnce == nil || *d.RunOnce }

// TriggerEvent is the event that starts the sequence, "" when only the API enrolls.
func (d *Definition) TriggerEvent() string {
	if d.Trigger == nil {
		return ""
	}
	return d.Trigger.Event
}

// Check validates everything that does not need the database; Template categories come from
// the caller (category by template id), which has checked that each template exists and is
// approved.
func (d *Definition) Check(category func(id int64) string) error {
	if d.Trigger != nil {
		if !ValidEventName(d.Trigger.Event) {
			return bad("trigger.event", `name an event in lower case, such as "order.placed" or "contact.created"`)
		}
		if err := checkFilters(d.Trigger.Filter); err != nil {
			return err
		}
	}
	for field, r := range map[string]*segment.Rule{"start_condition": d.StartCondition,
		"exit.success.rules": d.Exit.Success.rules(), "exit.failure.rules": d.Exit.Failure.rules()} {
		if err := checkRule(field, r); err != nil {
			return err
		}
	}
	for field, s := range map[string]*Stop{"exit.success.events": d.Exit.Success, "exit.failure.events": d.Exit.Failure} {
		for _, e := range s.events() {
			if !ValidEventName(e) {
				return bad(field, "%q is not an event name", e)
			}
		}
	}
	if d.Once() && d.ReentryAfter != nil {
		return bad("reentry_after", "reentry_after needs run_once false")
	}
	if d.ReentryAfter != nil {
		if err := d.ReentryAfter.check("reentry_after"); err != nil {
			return err
		}
	}
	if d.TimeZone == "" {
		d.TimeZone = "contact"
	}
	if d.TimeZone != "contact" {
		if _, err := time.LoadLocation(d.TimeZone); err != nil || d.TimeZone == "Local" {
			return bad("time_zone", `use "contact" or an IANA zone such as "Asia/Kolkata"`)
		}
	}
	if err := checkWindow("send_window", d.SendWindow); err != nil {
		return err
	}
	return d.checkSteps(category)
}

func (d *Definition) checkSteps(category func(id int64) string) error {
	if len(d.Steps) == 0 || len(d.Steps) > MaxSteps {
		return bad("steps", "a sequence has 1 to %d steps", MaxSteps)
	}
	for i := range d.Steps {
		s := &d.Steps[i]
		field := fmt.Sprintf("steps[%d]", i)
		if s.DelayFrom == "" {
			s.DelayFrom = "previous"
		}
		if s.DelayFrom != "previous" && s.DelayFrom != "enrollment" {
			return bad(field+".delay_from", `delay_from is "previous" or "enrollment"`)
		}
		if s.Delay.Unit == "" && s.Delay.Amount == 0 {
			s.Delay.Unit = "minutes"
		}
		if err := s.Delay.check(field + ".delay"); err != nil {
			return err
		}
		if err := checkRule(field+".condition", s.Condition); err != nil {
			return err
		}
		if err := checkWindow(field+".send_window", s.SendWindow); err != nil {
			return err
		}
		switch category(s.TemplateID) {
		case "":
			return bad(field+".template_id", "no approved template %d in this account", s.TemplateID)
		case "marketing":
			// Meta's policy and the product's promise: an opted-out contact gets no marketing.
			d.Exit.OnOptOut = true
		}
	}
	return nil
}

func (s *Stop) rules() *segment.Rule {
	if s == nil {
		return nil
	}
	return s.Rules
}

func (s *Stop) events() []string {
	if s == nil {
		return nil
	}
	return s.Events
}

func checkRule(field string, r *segment.Rule) error {
	if r == nil {
		return nil
	}
	if err := segment.Check(*r); err != nil {
		return invalid.Within(field, err)
	}
	return nil
}

func checkWindow(field string, w *policy.Window) error {
	if w == nil {
		return nil
	}
	if _, err := w.Encode(); err != nil {
		return invalid.Within(field, err)
	}
	return nil
}

func (d Delay) check(field string) error {
	var unit time.Duration
	switch d.Unit {
	case "minutes":
		unit = time.Minute
	case "hours":
		unit = time.Hour
	case "days":
		unit = 24 * time.Hour
	default:
		return bad(field+".unit", "unit is minutes, hours or days")
	}
	if d.Amount < 0 || time.Duration(d.Amount)*unit > MaxDelay {
		return bad(field+".amount", "amount is 0 or more, at most a year")
	}
	return nil
}

// After adds the delay to t: days in the zone loc, so 09:00 stays 09:00 across a DST change.
func (d Delay) After(t time.Time, loc *time.Location) time.Time {
	switch d.Unit {
	case "days":
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day()+d.Amount, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc)
	case "hours":
		return t.Add(time.Duration(d.Amount) * time.Hour)
	}
	return t.Add(time.Duration(d.Amount) * time.Minute)
}

// Location is the zone of the sequence's windows and day delays for a contact.
func (d *Definition) Location(contactZone string) *time.Location {
	zone := d.TimeZone
	if zone == "" || zone == "contact" {
		zone = contactZone
	}
	if loc, err := time.LoadLocation(zone); err == nil {
		return loc
	}
	return time.UTC
}

// Window is the send window of step i: its own, else the sequence's, nil when sending is always
// allowed.
func (d *Definition) Window(i int) *policy.Window {
	if w := d.Steps[i].SendWindow; w != nil {
		return w
	}
	return d.SendWindow
}

// RunAt is when step i runs: its delay after the previous step (at prev) or after enrollment,
// moved into its send window.
func (d *Definition) RunAt(i int, prev, enrolled time.Time, loc *time.Location) time.Time {
	s := d.Steps[i]
	base := prev
	if s.DelayFrom == "enrollment" || i == 0 {
		base = enrolled
	}
	t := s.Delay.After(base, loc)
	if w := d.Window(i); w != nil {
		t = w.Next(t, loc)
	}
	return t
}
