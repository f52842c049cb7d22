// Package templates models WhatsApp templates as Meta approved them, checks how each of their
// parameters is filled, and renders them for one contact into Cloud API components.
package templates

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/invalid"
)

// Meta's limits on template parts (characters).
const (
	MaxBodyLen       = 1024
	MaxHeaderLen     = 60
	MaxFooterLen     = 60
	MaxButtonTextLen = 25
	MaxButtons       = 10
	MaxParamLen      = 1024
	MaxURLLen        = 2000
)

// Components are the parts of a template as Meta approved them.
type Components struct {
	Header  *Header  `json:"header,omitempty"`
	Body    Text     `json:"body"`
	Footer  *Text    `json:"footer,omitempty"`
	Buttons []Button `json:"buttons,omitempty"`
}

// Header is text with at most one placeholder, a media header (an uploaded file or a link), or a
// location (latitude, longitude, and a name and address when mapped).
type Header struct {
	Format string `json:"format"` // text, image, document, video, location
	Text   string `json:"text,omitempty"`
}

// Text is a body or a footer.
type Text struct {
	Text string `json:"text"`
}

// Button is a quick reply, a URL (whose suffix may be a placeholder), a phone number, a copy code,
// a WhatsApp Flow, an authentication template's one-time code (copy code or one tap), or the
// number's catalog.
type Button struct {
	Type        string `json:"type"` // quick_reply, url, phone_number, copy_code, flow, otp, catalog
	Text        string `json:"text"`
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

// Source says how one parameter is filled for a contact.
type Source struct {
	Source   string `json:"source"`          // contact, attribute, event, fixed
	Field    string `json:"field,omitempty"` // with contact: name, first_name, email, phone, country
	Key      string `json:"key,omitempty"`   // with attribute and event
	Value    string `json:"value,omitempty"` // with fixed
	Fallback string `json:"fallback,omitempty"`
	Type     string `json:"type,omitempty"`     // text (default), currency, date_time
	Currency string `json:"currency,omitempty"` // ISO 4217 code, with type currency
}

// Mapping fills parameters by slot: "header.1", "header.media", "header.latitude",
// "header.longitude", "header.name", "header.address", "body.N" (or "body.name" with named
// placeholders), "button.I" (the URL suffix, the quick-reply payload, the coupon, the flow token, the
// one-time code or the catalog's thumbnail product of the button at index I).
type Mapping map[string]Source

// Template is what the API stores.
type Template struct {
	Name       string     `json:"name"`
	Language   string     `json:"language"`
	Category   string     `json:"category"`
	Status     string     `json:"status"`
	Components Components `json:"components"`
	Parameters Mapping    `json:"parameters"`
}

// Categories and statuses as Meta names them, lower-cased.
var (
	Categories = []string{"marketing", "utility", "authentication"}
	Statuses   = []string{"approved", "pending", "rejected", "paused", "disabled"}
)

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
	// A placeholder is positional ({{1}}) or named ({{first_name}}): Meta's parameter_format
	// POSITIONAL or NAMED, one or the other in a template.
	placeholderRE = regexp.MustCompile(`\{\{\s*([0-9]+|[a-z_][a-z0-9_]*)\s*\}\}`)
	currencyRE    = regexp.MustCompile(`^[A-Z]{3}$`)
	contactFields = []string{"name", "first_name", "email", "phone", "country"}
)

func bad(field, format string, args ...any) error {
	return invalid.Field(field, format, args...)
}

// Validate checks the template against Meta's rules and that every placeholder has a source.
func (t *Template) Validate() error {
	if t.Status == "" {
		t.Status = "approved"
	}
	switch {
	case !nameRE.MatchString(t.Name):
		return bad("name", "use lower-case letters, digits and underscores, as Meta does")
	case !languageRE.MatchString(t.Language):
		return bad("language", `use a Meta language code such as "en" or "en_US"`)
	case !slices.Contains(Categories, t.Category):
		return bad("category", "must be one of %s", strings.Join(Categories, ", "))
	case !slices.Contains(Statuses, t.Status):
		return bad("status", "must be one of %s", strings.Join(Statuses, ", "))
	}
	slots, err := t.Components.slots()
	if err != nil {
		return err
	}
	return t.Parameters.check(slots)
}

// slot is a parameter a send must fill, and whether a mapping is required for it.
type slot struct {
	required bool
	media    bool
	plain    bool // a location's part: text as it is, no currency or date
}

func (c Components) slots() (map[string]slot, error) {
	s := map[string]slot{}
	if h := c.Header; h != nil {
		switch h.Format {
		case "text":
			if err := placeholders("components.header.text", h.Text, MaxHeaderLen, 1, "header", s); err != nil {
				return nil, err
			}
		case "image", "document", "video":
			if h.Text != "" {
				return nil, bad("components.header.text", "a %s header has no text", h.Format)
			}
			s["header.media"] = slot{required: true, media: true}
		case "location":
			if h.Text != "" {
				return nil, bad("components.header.text", "a location header has no text")
			}
			s["header.latitude"], s["header.longitude"] = slot{required: true, plain: true}, slot{required: true, plain: true}
			s["header.name"], s["header.address"] = slot{plain: true}, slot{plain: true}
		default:
			return nil, bad("components.header.format", "must be text, image, document, video or location")
		}
	}
	if strings.TrimSpace(c.Body.Text) == "" {
		return nil, bad("components.body.text", "is required")
	}
	if err := placeholders("components.body.text", c.Body.Text, MaxBodyLen, -1, "body", s); err != nil {
		return nil, err
	}
	if c.Header != nil && c.Header.Format == "text" && named(c.Header.Text) != named(c.Body.Text) &&
		placeholderRE.MatchString(c.Header.Text) && placeholderRE.MatchString(c.Body.Text) {
		return nil, bad("components.header.text", "use numbered placeholders in both the header and the body, or names in both")
	}
	if f := c.Footer; f != nil {
		if utf8.RuneCountInString(f.Text) > MaxFooterLen {
			return nil, bad("components.footer.text", "longer than %d characters", MaxFooterLen)
		}
		if placeholderRE.MatchString(f.Text) {
			return nil, bad("components.footer.text", "a footer has no placeholders")
		}
	}
	if len(c.Buttons) > MaxButtons {
		return nil, bad("components.buttons", "at most %d buttons", MaxButtons)
	}
	for i, b := range c.Buttons {
		if err := b.slot(i, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (b Button) slot(i int, s map[string]slot) error {
	field := fmt.Sprintf("components.buttons[%d]", i)
	if b.Text == "" || utf8.RuneCountInString(b.Text) > MaxButtonTextLen {
		return bad(field+".text", "is required, at most %d characters", MaxButtonTextLen)
	}
	key := "button." + strconv.Itoa(i)
	switch b.Type {
	case "quick_reply":
		s[key] = slot{} // the payload defaults to the button's text
	case "url":
		if !strings.HasPrefix(b.URL, "https://") && !strings.HasPrefix(b.URL, "http://") {
			return bad(field+".url", "must be an http(s) URL")
		}
		m := placeholderRE.FindAllStringIndex(b.URL, -1)
		if len(m) > 1 || (len(m) == 1 && m[0][1] != len(b.URL)) {
			return bad(field+".url", "may end with one placeholder {{1}}, and have no other")
		}
		if len(m) == 1 {
			s[key] = slot{required: true}
		}
	case "phone_number":
		if b.PhoneNumber == "" {
			return bad(field+".phone_number", "is required")
		}
	case "copy_code", "otp": // the coupon; an authentication template's one-time code
		s[key] = slot{required: true}
	case "flow":
		s[key] = slot{} // the flow token; Meta's "unused" without one
	case "catalog":
		s[key] = slot{} // the retailer id of the product whose image the message shows
	default:
		return bad(field+".type", "must be quick_reply, url, phone_number, copy_code, flow, otp or catalog")
	}
	return nil
}

// placeholders checks that text holds {{1}}…{{n}} with none missing (Meta rejects gaps), or
// named ones ({{first_name}}), not both, and records a required slot for each.
func placeholders(field, text string, maxLen, maxCount int, prefix string, s map[string]slot) error {
	if utf8.RuneCountInString(text) > maxLen {
		return bad(field, "longer than %d characters", maxLen)
	}
	if named(text) {
		return namedPlaceholders(field, text, maxCount, prefix, s)
	}
	seen := map[int]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > 100 {
			return bad(field, "placeholder %s is out of range", m[0])
		}
		seen[n] = true
	}
	if maxCount >= 0 && len(seen) > maxCount {
		return bad(field, "at most %d placeholder", maxCount)
	}
	for n := 1; n <= len(seen); n++ {
		if !seen[n] {
			return bad(field, "placeholders must be numbered {{1}} to {{%d}} without gaps", len(seen))
		}
		s[prefix+"."+strconv.Itoa(n)] = slot{required: true}
	}
	return nil
}

// named tells a text whose placeholders are named ({{first_name}}) from a positional one.
func named(text string) bool {
	m := placeholderRE.FindStringSubmatch(text)
	return m != nil && (m[1][0] < '0' || m[1][0] > '9')
}

// namedPlaceholders records a slot for each name; a name must be lower-case letters, digits and
// underscores (Meta's rule), and a text's placeholders all named.
func namedPlaceholders(field, text string, maxCount int, prefix string, s map[string]slot) error {
	names := placeholderNames(text)
	if names == nil {
		return bad(field, "use numbered placeholders ({{1}}) or named ones ({{first_name}}), not both")
	}
	if maxCount >= 0 && len(names) > maxCount {
		return bad(field, "at most %d placeholder", maxCount)
	}
	for _, n := range names {
		s[prefix+"."+n] = slot{required: true}
	}
	return nil
}

// placeholderNames are a named text's placeholders in order of first appearance; nil when one
// of them is a number.
func placeholderNames(text string) []string {
	var names []string
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		if m[1][0] >= '0' && m[1][0] <= '9' {
			return nil
		}
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return names
}

func (m Mapping) check(slots map[string]slot) error {
	for key := range m {
		if _, ok := slots[key]; !ok {
			return bad("parameters."+key, "the template has no such parameter")
		}
	}
	keys := make([]string, 0, len(slots))
	for k := range slots {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		src, ok := m[key]
		if !ok {
			if slots[key].required {
				return bad("parameters."+key, "has no source; map it to a contact field, an attribute, an event property or a fixed value")
			}
			continue
		}
		if err := src.check("parameters."+key, slots[key].media); err != nil {
			return err
		}
		if slots[key].plain && src.Type != "" && src.Type != "text" {
			return bad("parameters."+key+".type", "a location's parts are plain text")
		}
	}
	return nil
}

func (s Source) check(field string, media bool) error {
	if len(s.Value) > MaxParamLen || len(s.Fallback) > MaxParamLen {
		return bad(field, "value and fallback hold at most %d bytes", MaxParamLen)
	}
	switch s.Source {
	case "contact":
		if !slices.Contains(contactFields, s.Field) {
			return bad(field+".field", "must be one of %s", strings.Join(contactFields, ", "))
		}
	case "attribute", "event":
		if !contacts.AttributeKeyValid(s.Key) {
			return bad(field+".key", "must be a name of letters, digits and underscores")
		}
	case "fixed":
		if s.Value == "" {
			return bad(field+".value", "a fixed parameter needs a value")
		}
	default:
		return bad(field+".source", "must be contact, attribute, event or fixed")
	}
	switch s.Type {
	case "", "text", "date_time":
	case "currency":
		if !currencyRE.MatchString(s.Currency) {
			return bad(field+".currency", "must be an ISO 4217 code such as INR")
		}
	default:
		return bad(field+".type", "must be text, currency or date_time")
	}
	if !media {
		return nil
	}
	if s.Type != "" && s.Type != "text" {
		return bad(field+".type", "a media header takes a link or a media id")
	}
	for name, v := range map[string]string{"value": s.Value, "fallback": s.Fallback} {
		if _, err := MediaRef(v); v != "" && err != nil {
			return bad(field+"."+name, "%s", err.Error())
		}
	}
	return nil
}

// Slots are the parameters a send fills ("header.1", "body.2", "button.0", …), sorted; nil when
// the components are not valid.
func (t *Template) Slots() []string {
	s, err := t.Components.slots()
	if err != nil {
		return nil
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
