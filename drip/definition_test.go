package drip

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
)

func mustLoad(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A day is a calendar day in the zone: 09:00 stays 09:00 across New York's spring-forward
// (Sunday 2030-03-10), while 24 hours is 24 hours.
func TestDelayAcrossDST(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	at := time.Date(2030, 3, 9, 9, 0, 0, 0, ny)
	if got := (Delay{1, "days"}).After(at, ny); got.In(ny).Hour() != 9 || got.Sub(at) != 23*time.Hour {
		t.Errorf("1 day after %s: %s (%s later)", at, got.In(ny), got.Sub(at))
	}
	if got := (Delay{24, "hours"}).After(at, ny); got.In(ny).Hour() != 10 || got.Sub(at) != 24*time.Hour {
		t.Errorf("24 hours after %s: %s", at, got.In(ny))
	}
	if got := (Delay{90, "minutes"}).After(at, ny); got.Sub(at) != 90*time.Minute {
		t.Errorf("90 minutes: %s", got.Sub(at))
	}
	// Fall back (2030-11-03): a day is 25 hours.
	fall := time.Date(2030, 11, 2, 9, 0, 0, 0, ny)
	if got := (Delay{1, "days"}).After(fall, ny); got.Sub(fall) != 25*time.Hour {
		t.Errorf("1 day across fall-back: %s", got.Sub(fall))
	}
}

// Each step runs after its delay, moved into its window; delays count from the previous step or
// from enrollment.
func TestRunAt(t *testing.T) {
	t.Parallel()
	kolkata := mustLoad(t, "Asia/Kolkata")
	d := &Definition{SendWindow: &policy.Window{Start: "09:00", End: "21:00"}, Steps: []Step{
		{Delay: Delay{0, "minutes"}},
		{Delay: Delay{2, "hours"}, DelayFrom: "previous"},
		{Delay: Delay{3, "days"}, DelayFrom: "enrollment", SendWindow: &policy.Window{Days: []string{"sat"}, Start: "10:00", End: "11:00"}},
	}}
	enrolled := time.Date(2030, 6, 3, 20, 30, 0, 0, kolkata) // Monday 20:30 IST
	if got := d.RunAt(0, enrolled, enrolled, kolkata); !got.Equal(enrolled) {
		t.Errorf("step 0: %s", got)
	}
	if got, want := d.RunAt(1, enrolled, enrolled, kolkata), time.Date(2030, 6, 4, 9, 0, 0, 0, kolkata); !got.Equal(want) {
		t.Errorf("step 1 at 22:30 is outside 09-21: %s, want %s", got, want)
	}
	prev := time.Date(2030, 6, 5, 12, 0, 0, 0, kolkata)
	if got, want := d.RunAt(2, prev, enrolled, kolkata), time.Date(2030, 6, 8, 10, 0, 0, 0, kolkata); !got.Equal(want) {
		t.Errorf("step 2 (3 days after enrollment, Saturdays 10-11): %s, want %s", got, want)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	category := func(id int64) string { return map[int64]string{1: "utility", 2: "marketing"}[id] }
	no := false
	cases := map[string]struct {
		def   Definition
		field string
	}{
		"no steps":           {Definition{}, "steps"},
		"unknown template":   {Definition{Steps: []Step{{TemplateID: 9}}}, "steps[0].template_id"},
		"bad unit":           {Definition{Steps: []Step{{TemplateID: 1, Delay: Delay{1, "weeks"}}}}, "steps[0].delay.unit"},
		"negative delay":     {Definition{Steps: []Step{{TemplateID: 1, Delay: Delay{-1, "hours"}}}}, "steps[0].delay.amount"},
		"bad delay_from":     {Definition{Steps: []Step{{TemplateID: 1, DelayFrom: "lunch"}}}, "steps[0].delay_from"},
		"bad event":          {Definition{Trigger: &Trigger{Event: "Order Placed"}, Steps: []Step{{TemplateID: 1}}}, "trigger.event"},
		"bad filter op":      {Definition{Trigger: &Trigger{Event: "a.b", Filter: []Filter{{Property: "x", Op: "like", Value: json.RawMessage(`1`)}}}, Steps: []Step{{TemplateID: 1}}}, "trigger.filter[0].op"},
		"exists with value":  {Definition{Trigger: &Trigger{Event: "a.b", Filter: []Filter{{Property: "x", Op: "exists", Value: json.RawMessage(`1`)}}}, Steps: []Step{{TemplateID: 1}}}, "trigger.filter[0].value"},
		"cooling needs flag": {Definition{ReentryAfter: &Delay{7, "days"}, Steps: []Step{{TemplateID: 1}}}, "reentry_after"},
		"bad zone":           {Definition{TimeZone: "Mars/Olympus", Steps: []Step{{TemplateID: 1}}}, "time_zone"},
		"bad window":         {Definition{SendWindow: &policy.Window{Start: "21:00", End: "09:00"}, Steps: []Step{{TemplateID: 1}}}, "send_window"},
		"bad exit event":     {Definition{Exit: Exit{Success: &Stop{Events: []string{"!"}}}, Steps: []Step{{TemplateID: 1}}}, "exit.success.events"},
		"ok":                 {Definition{RunOnce: &no, ReentryAfter: &Delay{7, "days"}, Steps: []Step{{TemplateID: 1}}}, ""},
	}
	for name, c := range cases {
		err := c.def.Check(category)
		de, isInput := invalid.As(err)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.field != "" && (!isInput || de.Field != c.field):
			t.Errorf("%s: got %v, want an error on %s", name, err, c.field)
		}
	}
	d := Definition{Steps: []Step{{TemplateID: 1}, {TemplateID: 2}}}
	if err := d.Check(category); err != nil || !d.Exit.OnOptOut || d.TimeZone != "contact" || d.Steps[1].DelayFrom != "previous" {
		t.Errorf("a marketing step must force exit on opt-out and defaults must be filled: %v %+v", err, d)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	props := map[string]any{"total": "149.90", "items": []any{"shoe", "sock"}, "customer": map[string]any{"city": "Pune"}, "vip": true}
	f := func(prop, op, value string) Filter {
		return Filter{Property: prop, Op: op, Value: json.RawMessage(value)}
	}
	cases := []struct {
		f    Filter
		want bool
	}{
		{f("total", "gte", "100"), true},
		{f("total", "lt", "100"), false},
		{f("total", "eq", "149.9"), true},
		{f("items", "contains", `"sock"`), true},
		{f("customer.city", "eq", `"Pune"`), true},
		{f("customer.city", "contains", `"pun"`), true},
		{f("customer.city", "neq", `"Pune"`), false},
		{f("vip", "eq", "true"), true},
		{Filter{Property: "coupon", Op: "not_exists"}, true},
		{Filter{Property: "customer.city", Op: "exists"}, true},
		{f("missing", "gt", "1"), false},
	}
	for _, c := range cases {
		if got := Match([]Filter{c.f}, props); got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.f.Property, c.f.Op, c.f.Value, got, c.want)
		}
	}
}
