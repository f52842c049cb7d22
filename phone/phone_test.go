package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, region, want, country string
	}{
		{"+91 98765 43210", "", "+919876543210", "IN"},
		{"+91-98765-43210", "", "+919876543210", "IN"},
		{"(+91) 98765 43210", "", "+919876543210", "IN"},
		{"0091 98765 43210", "", "+919876543210", "IN"},
		{"98765 43210", "IN", "+919876543210", "IN"},
		{"098765 43210", "in", "+919876543210", "IN"}, // trunk prefix 0, lower-case region
		{"  +1 (415) 555-0100  ", "", "+14155550100", "US"},
		{"415 555 0100", "US", "+14155550100", "US"},
		{"+44 20 7946 0958", "", "+442079460958", "GB"},
		{"020 7946 0958", "GB", "+442079460958", "GB"},
		{"+55 11 91234 5678", "", "+5511912345678", "BR"},
		{"+٩١٩٨٧٦٥٤٣٢١٠", "", "+919876543210", "IN"}, // Arabic-Indic digits
	}
	for _, c := range cases {
		n, err := Normalize(c.in, c.region)
		if err != nil {
			t.Errorf("Normalize(%q, %q): %v", c.in, c.region, err)
			continue
		}
		if n.E164 != c.want || n.Country != c.country {
			t.Errorf("Normalize(%q, %q) = %s %s, want %s %s", c.in, c.region, n.E164, n.Country, c.want, c.country)
		}
		if n.TimeZone == "" {
			t.Errorf("Normalize(%q): no time zone", c.in)
		}
	}
}

func TestNormalizeTimeZoneFollowsArea(t *testing.T) {
	t.Parallel()
	for in, zone := range map[string]string{
		"+1 212 555 0100": "America/New_York",
		"+1 415 555 0100": "America/Los_Angeles",
		"+91 98765 43210": "Asia/Calcutta",
	} {
		n, err := Normalize(in, "")
		if err != nil || n.TimeZone != zone {
			t.Errorf("Normalize(%q) zone = %q, %v; want %s", in, n.TimeZone, err, zone)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, region, why string }{
		{"", "", "empty"},
		{"   ", "", "empty"},
		{"9876543210", "", "no country code"},
		{"+12345", "", "not a valid number"},
		{"+91 12345", "", "not a valid number"},
		{"+999 1234567", "", "invalid"},
		{"hello", "", "no country code"},
		{"+1 415 555 0100", "XX", "unknown default country"},
		{"+" + strings.Repeat("1", 80), "", "longer than"},
		{"+1 415 555 0100; DROP TABLE contacts", "", "invalid"},
	}
	for _, c := range cases {
		_, err := Normalize(c.in, c.region)
		if err == nil {
			t.Errorf("Normalize(%q, %q) accepted", c.in, c.region)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("Normalize(%q, %q) = %v, want an ErrInvalid saying %q", c.in, c.region, err, c.why)
		}
	}
}

func TestErrorsDoNotLeakTheNumber(t *testing.T) {
	t.Parallel()
	_, err := Normalize("9876543210", "")
	if err == nil || strings.Contains(err.Error(), "9876543210") {
		t.Fatalf("error %v shows the whole number", err)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+919876543210": "+91******3210",
		"+14155550100":  "+14*****0100",
		"1234567":       "*******",
		"":              "",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	if v := Masked("+919876543210").LogValue().String(); v != "+91******3210" {
		t.Errorf("Masked logs as %q", v)
	}
}

// Normalize never panics, its output is valid E.164, and normalizing its output changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+91 98765 43210", "0091", "98765 43210", "+1 (415) 555-0100", "+٩١", "++1", "+0", "00"} {
		f.Add(s, "")
		f.Add(s, "IN")
	}
	f.Fuzz(func(t *testing.T, in, region string) {
		n, err := Normalize(in, region)
		if err != nil {
			return
		}
		if !strings.HasPrefix(n.E164, "+") || len(n.E164) < 8 || len(n.E164) > 16 {
			t.Fatalf("Normalize(%q) = %q is not E.164", in, n.E164)
		}
		again, err := Normalize(n.E164, "")
		if err != nil || again != n {
			t.Fatalf("Normalize(%q) = %+v, but normalizing that gives %+v, %v", in, n, again, err)
		}
	})
}

// A business number as Meta reports it: valid ones in E.164, and Meta's test numbers (+1 555 …,
// no real area code) as their digits; anything else is refused.
func TestDisplay(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{"+91 98765 43210": "+919876543210", "+1 555-025-3483": "+15550253483",
		"15550253483": "+15550253483", "+1 (555) 010 0001": "+15550100001"} {
		if got, err := Display(raw); err != nil || got != want {
			t.Errorf("Display(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "+1 555", "+1 555 ABC 0001", "0555 0253 4830", "+1234567890123456"} {
		if got, err := Display(raw); err == nil {
			t.Errorf("Display(%q) = %q, want an error", raw, got)
		}
	}
}
