package segment

import (
	"encoding/json"
	"errors"
	"strings"
)

// Search is a contact list's filter, as the API's query and the console's search box give it.
// Empty fields do not filter.
type Search struct {
	Text    string // in the name or the email, and the phone number for a viewer who sees numbers
	Tag     string
	Country string
	OptedIn *bool
	// Attribute equals Value (as text).
	Attribute, Value string
}

// ErrPhoneSearch refuses a search by phone number to a viewer who sees numbers masked: what it
// finds would tell the number.
var ErrPhoneSearch = errors.New("your role sees phone numbers masked, so it cannot search by phone")

// Rule is the search as one rule (nil: everyone), checked.
func (s Search) Rule(seesPhones bool) (*Rule, error) {
	var all []Rule
	cond := func(field, op string, v any) Rule {
		b, _ := json.Marshal(v)
		return Rule{Field: field, Op: op, Value: b}
	}
	if s.Tag != "" {
		all = append(all, cond("tags", "contains", s.Tag))
	}
	if s.Country != "" {
		all = append(all, cond("country", "eq", strings.ToUpper(s.Country)))
	}
	if s.OptedIn != nil {
		all = append(all, cond("opted_in", "eq", *s.OptedIn))
	}
	if s.Attribute != "" {
		all = append(all, cond("attributes."+s.Attribute, "eq", s.Value))
	}
	if text := strings.TrimSpace(s.Text); text != "" {
		fields := []Rule{cond("name", "contains", text), cond("email", "contains", text)}
		switch {
		case seesPhones:
			fields = append(fields, cond("phone", "contains", text))
		case PhoneLike(text):
			return nil, ErrPhoneSearch
		}
		all = append(all, Rule{Any: fields})
	}
	if len(all) == 0 {
		return nil, nil
	}
	rule := Rule{All: all}
	if err := Check(rule); err != nil {
		return nil, err
	}
	return &rule, nil
}

// PhoneLike tells whether a search is made of a phone number's characters.
func PhoneLike(q string) bool {
	return strings.ContainsAny(q, "0123456789") && strings.Trim(q, "0123456789+-() .") == ""
}

// And is the rule matching both a and b (either may be nil: everyone).
func And(a, b *Rule) *Rule {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &Rule{All: []Rule{*a, *b}}
}
