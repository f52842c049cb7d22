// Package contacts validates contact data from the API and from imports, and upserts it in
// batches keyed by phone number.
package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
)

// Limits on one contact.
const (
	MaxNameLen      = 200
	MaxEmailLen     = 254
	MaxTags         = 50
	MaxTagLen       = 64
	MaxAttributes   = 100
	MaxAttributeLen = 1024
)

// Input is a contact as a client sends it. Nil fields are not given: an upsert keeps what is stored.
type Input struct {
	Phone       string         `json:"phone"`
	Name        *string        `json:"name"`
	Email       *string        `json:"email"`
	Tags        []string       `json:"tags"`
	Attributes  map[string]any `json:"attributes"`
	TimeZone    *string        `json:"time_zone"`
	OptedIn     *bool          `json:"opted_in"`
	OptInSource string         `json:"opt_in_source"`
}

// Row is a validated contact in the shape UpsertContacts reads.
type Row struct {
	Phone           string         `json:"phone"`
	Name            string         `json:"name,omitempty"`
	Email           string         `json:"email,omitempty"`
	Tags            []string       `json:"tags,omitempty"`
	Attributes      map[string]any `json:"attributes,omitempty"`
	Country         string         `json:"country"`
	TimeZone        string         `json:"time_zone,omitempty"`
	DerivedTimeZone string         `json:"derived_time_zone,omitempty"`
	OptedIn         *bool          `json:"opted_in,omitempty"`
	OptInSource     string         `json:"opt_in_source,omitempty"`
}

// Writes tells whether a row carries anything to write beyond its phone number.
func (r Row) Writes() bool {
	return r.Name != "" || r.Email != "" || len(r.Tags) > 0 || len(r.Attributes) > 0 || r.TimeZone != "" || r.OptedIn != nil
}

// Normalize checks every field and puts the phone number in E.164.
func (in Input) Normalize(defaultCountry string) (Row, error) {
	num, err := phone.Normalize(in.Phone, defaultCountry)
	if err != nil {
		return Row{}, fmt.Errorf("phone: %w", err)
	}
	row := Row{Phone: num.E164, Country: num.Country, DerivedTimeZone: num.TimeZone, OptedIn: in.OptedIn}
	if in.Name != nil {
		if row.Name, err = CheckName(*in.Name); err != nil {
			return Row{}, err
		}
	}
	if in.Email != nil {
		if row.Email, err = CheckEmail(*in.Email); err != nil {
			return Row{}, err
		}
	}
	if in.TimeZone != nil && strings.TrimSpace(*in.TimeZone) != "" {
		if row.TimeZone, err = CheckTimeZone(*in.TimeZone); err != nil {
			return Row{}, err
		}
	}
	if row.Tags, err = CheckTags(in.Tags); err != nil {
		return Row{}, err
	}
	if err = CheckAttributes(in.Attributes, false); err != nil {
		return Row{}, err
	}
	row.Attributes = in.Attributes
	if in.OptedIn != nil {
		if row.OptInSource, err = CheckSource(in.OptInSource); err != nil {
			return Row{}, err
		}
	}
	return row, nil
}

// AttributeKey is what may name a custom attribute: a letter or _, then letters, digits and _.
var AttributeKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// AttributeKeyValid tells whether k may name a custom attribute.
func AttributeKeyValid(k string) bool { return AttributeKey.MatchString(k) }

// Storable refuses text Postgres cannot store: invalid UTF-8 (a CSV in another encoding), or a
// NUL character.
func Storable(field, s string) error {
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("%s: not valid UTF-8 (save the file as UTF-8)", field)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s: holds a NUL character, which cannot be stored", field)
	}
	return nil
}

// CheckName trims a name and bounds its length.
func CheckName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := Storable("name", s); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(s) > MaxNameLen {
		return "", fmt.Errorf("name: at most %d characters", MaxNameLen)
	}
	return s, nil
}

// CheckEmail accepts an empty email (none) or a plain address.
func CheckEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxEmailLen {
		return "", fmt.Errorf("email: longer than %d characters", MaxEmailLen)
	}
	if err := Storable("email", s); err != nil {
		return "", err
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		return "", fmt.Errorf("email: %q is not an address like name@example.com", s)
	}
	return strings.ToLower(s), nil
}

// CheckTimeZone accepts IANA zone names this binary knows.
func CheckTimeZone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "Local" || len(s) > 64 {
		return "", fmt.Errorf("time_zone: %q is not an IANA time zone such as Asia/Kolkata", s)
	}
	if _, err := time.LoadLocation(s); err != nil {
		return "", fmt.Errorf("time_zone: %q is not an IANA time zone such as Asia/Kolkata", s)
	}
	return s, nil
}

// CheckTags trims, dedupes and sorts tags.
func CheckTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if err := Storable("tags", t); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(t) > MaxTagLen {
			return nil, fmt.Errorf("tags: %q is longer than %d characters", t, MaxTagLen)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, fmt.Errorf("tags: at most %d", MaxTags)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// CheckAttributes accepts flat string, number and boolean values under valid names; with
// allowNull, a null value deletes the attribute (PATCH).
func CheckAttributes(attrs map[string]any, allowNull bool) error {
	if len(attrs) > MaxAttributes {
		return fmt.Errorf("attributes: at most %d", MaxAttributes)
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if !AttributeKeyValid(k) {
			return fmt.Errorf("attributes: %q is not a valid name (letters, digits and _, starting with a letter or _)", k)
		}
		switch v := attrs[k].(type) {
		case string:
			if len(v) > MaxAttributeLen {
				return fmt.Errorf("attributes.%s: longer than %d bytes", k, MaxAttributeLen)
			}
			if err := Storable("attributes."+k, v); err != nil {
				return err
			}
		case float64, bool, json.Number:
		case nil:
			if !allowNull {
				return fmt.Errorf("attributes.%s: null is not a value", k)
			}
		default:
			return fmt.Errorf("attributes.%s: must be a string, number or boolean", k)
		}
	}
	return nil
}

// ConsentSources are what a consent change may name as its origin: a fixed set, so reports can
// rely on them. Who claimed it is recorded beside it (consent_events.set_by). Dripcast's own
// sources (whatsapp_reply, meta_user_preferences, meta_131050) cannot be claimed.
var ConsentSources = []string{"api", "import", "event", "website_form", "checkout", "double_opt_in", "in_person",
	"phone_call", "paper_form", "chat", "customer_request"}

// CheckSource names where a consent change came from; "api" when not given.
func CheckSource(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "api", nil
	}
	if !slices.Contains(ConsentSources, s) {
		return "", fmt.Errorf("opt_in_source: %q is not one of %s", s, strings.Join(ConsentSources, ", "))
	}
	return s, nil
}

// Merge folds b into a, for two rows of one batch with the same phone: b's values win, tags
// and attributes add up, as they would if b were upserted after a.
func Merge(a, b Row) Row {
	if b.Name != "" {
		a.Name = b.Name
	}
	if b.Email != "" {
		a.Email = b.Email
	}
	if b.TimeZone != "" {
		a.TimeZone = b.TimeZone
	}
	if b.OptedIn != nil {
		a.OptedIn, a.OptInSource = b.OptedIn, b.OptInSource
	}
	if len(b.Tags) > 0 {
		a.Tags = append(slices.Clone(a.Tags), b.Tags...)
		slices.Sort(a.Tags)
		a.Tags = slices.Compact(a.Tags)
	}
	if len(b.Attributes) > 0 {
		m := maps.Clone(a.Attributes)
		if m == nil {
			m = map[string]any{}
		}
		maps.Copy(m, b.Attributes)
		a.Attributes = m
	}
	return a
}

// Outcome of an upsert: how many rows were created and updated, and each phone's contact id.
type Outcome struct {
	Created, Updated int
	IDs              map[string]int64
}

// Author is who writes contacts, and how far they may change existing ones.
type Author struct {
	// By is recorded with each consent change: "key:<id>", "integration:<id>", "meta".
	By string
	// Fill only creates contacts and fills what existing ones lack: never a rename, a changed
	// email or time zone, an overwritten attribute or a change of consent (events of an
	// integration not configured to overwrite, and of integration keys).
	Fill bool
}

// Upsert writes rows (one per phone) in one statement. A phone that another transaction inserted
// at the same moment comes back in neither list of the statement; it is upserted again, and is
// then an update.
func Upsert(ctx context.Context, q *queries.Queries, accountID int64, rows []Row, by Author) (Outcome, error) {
	out := Outcome{IDs: make(map[string]int64, len(rows))}
	pending := rows
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == 3 {
			return out, fmt.Errorf("upsert contacts: %d rows kept conflicting with concurrent writes", len(pending))
		}
		payload, err := json.Marshal(pending)
		if err != nil {
			return out, err
		}
		res, err := q.UpsertContacts(ctx, queries.UpsertContactsParams{Rows: payload, AccountID: accountID, Fill: by.Fill, SetBy: by.By})
		if err != nil {
			return out, fmt.Errorf("upsert contacts: %w", err)
		}
		for _, r := range res {
			out.IDs[r.Phone] = r.ID
			if r.Inserted {
				out.Created++
			} else {
				out.Updated++
			}
		}
		var missing []Row
		for _, r := range pending {
			if _, ok := out.IDs[r.Phone]; !ok {
				missing = append(missing, r)
			}
		}
		pending = missing
	}
	return out, nil
}
