// Package phone normalizes phone numbers to E.164 and masks them for logs and read-only views.
package phone

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// MaxInputLen bounds what the parser is given; no real number, however formatted, is longer.
const MaxInputLen = 64

// Number is a normalized phone number with what it tells about its owner.
type Number struct {
	E164     string // +919876543210
	Country  string // ISO 3166 alpha-2 region, "IN"
	TimeZone string // an IANA zone of the number's region or area, "" when unknown
}

// ErrInvalid is wrapped by every normalization error.
var ErrInvalid = errors.New("invalid phone number")

// Display reads a business number as Meta reports it ("+1 555-025-3483"): in E.164 when it is a
// valid number, else as its digits after a +, so that Meta's own test numbers (+1 555 …, no real
// area code) are numbers too. Only Meta's answers go through it: a contact's number must be valid.
func Display(raw string) (string, error) {
	if n, err := Normalize(raw, ""); err == nil {
		return n.E164, nil
	}
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '+':
			return -1
		}
		return 'x'
	}, raw)
	if strings.Contains(digits, "x") || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", fmt.Errorf("%w: %q is not a phone number", ErrInvalid, Mask(raw))
	}
	return "+" + digits, nil
}

// Normalize parses raw ("+91 98765 43210", "0091…", or a national number with defaultRegion)
// and returns it in E.164. Numbers that are not valid for their region are rejected.
func Normalize(raw, defaultRegion string) (Number, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Number{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > MaxInputLen {
		return Number{}, fmt.Errorf("%w: longer than %d characters", ErrInvalid, MaxInputLen)
	}
	s = strings.TrimLeft(s, "( ") // "(+91) 98765 43210"
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if strings.HasPrefix(s, "00") && region == "" {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") && region == "" {
		return Number{}, fmt.Errorf("%w: %q has no country code; write it as +<country code><number> or give a default country", ErrInvalid, Mask(s))
	}
	if region != "" && phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return Number{}, fmt.Errorf("%w: unknown default country %q", ErrInvalid, region)
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return Number{}, fmt.Errorf("%w: %s", ErrInvalid, strings.ToLower(err.Error()))
	}
	// IsValidNumber would look the region up again; this is the same check, once.
	country := phonenumbers.GetRegionCodeForNumber(num)
	if !phonenumbers.IsValidNumberForRegion(num, country) {
		return Number{}, fmt.Errorf("%w: %s is not a valid number for its country", ErrInvalid, Mask(s))
	}
	return Number{
		E164:     phonenumbers.Format(num, phonenumbers.E164),
		Country:  country,
		TimeZone: timeZoneOf(num),
	}, nil
}

// timeZoneOf picks the first zone libphonenumber gives for the number's area that this binary can
// load. Countries with several zones get the zone of the number's area code where it is known.
func timeZoneOf(num *phonenumbers.PhoneNumber) string {
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return ""
	}
	for _, z := range zones {
		if loadable(z) {
			return z
		}
	}
	return ""
}

// loadable caches whether a zone loads: time.LoadLocation reads the zone file on every call, and
// an import asks for the same few zones a million times.
var zoneOK sync.Map

func loadable(zone string) bool {
	if ok, found := zoneOK.Load(zone); found {
		return ok.(bool)
	}
	_, err := time.LoadLocation(zone)
	ok := err == nil && zone != "Etc/Unknown"
	zoneOK.Store(zone, ok)
	return ok
}

// Mask keeps the first three and the last four characters: "+91******3210". Anything shorter than
// eight characters is masked whole.
func Mask(s string) string {
	if len(s) < 8 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}

// Masked logs as its mask, so a phone number cannot reach a log line by accident.
type Masked string

// LogValue implements slog.LogValuer.
func (m Masked) LogValue() slog.Value { return slog.StringValue(Mask(string(m))) }

// ValidRegion says whether region is a country code libphonenumber knows ("IN", "US").
func ValidRegion(region string) bool { return phonenumbers.GetCountryCodeForRegion(region) != 0 }
