package templates

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dripcast/dripcast/whatsapp"
)

// Recipient is what a template may read about the contact it is sent to.
type Recipient struct {
	Name       string
	Email      string
	Phone      string
	Country    string
	Attributes map[string]any
}

// Rendered is a template filled for one recipient: the components to send and the text the
// recipient will see.
type Rendered struct {
	Components []whatsapp.Component `json:"components"`
	Preview    Preview              `json:"preview"`
}

// Preview is the message as the recipient reads it.
type Preview struct {
	Header  string   `json:"header,omitempty"`
	Body    string   `json:"body"`
	Footer  string   `json:"footer,omitempty"`
	Buttons []string `json:"buttons,omitempty"`
}

// Render fills every parameter from the recipient and the event properties (nil outside an
// event). A parameter with no value and no fallback is an error: Meta rejects empty parameters.
func (t *Template) Render(r Recipient, event map[string]any) (Rendered, error) {
	var out Rendered
	c := t.Components
	if h := c.Header; h != nil {
		comp, text, err := t.renderHeader(h, r, event)
		if err != nil {
			return Rendered{}, err
		}
		out.Preview.Header = text
		if comp != nil {
			out.Components = append(out.Components, *comp)
		}
	}
	body, params, err := t.fill("body", c.Body.Text, r, event)
	if err != nil {
		return Rendered{}, err
	}
	out.Preview.Body = body
	if len(params) > 0 {
		out.Components = append(out.Components, whatsapp.Component{Type: "body", Parameters: params})
	}
	if c.Footer != nil {
		out.Preview.Footer = c.Footer.Text
	}
	for i, b := range c.Buttons {
		comp, label, err := t.renderButton(i, b, r, event)
		if err != nil {
			return Rendered{}, err
		}
		out.Preview.Buttons = append(out.Preview.Buttons, label)
		if comp != nil {
			out.Components = append(out.Components, *comp)
		}
	}
	return out, nil
}

func (t *Template) renderHeader(h *Header, r Recipient, event map[string]any) (*whatsapp.Component, string, error) {
	if h.Format == "text" {
		text, params, err := t.fill("header", h.Text, r, event)
		if err != nil || len(params) == 0 {
			return nil, text, err
		}
		if utf8.RuneCountInString(text) > MaxHeaderLen {
			return nil, "", fmt.Errorf("header is longer than %d characters once filled", MaxHeaderLen)
		}
		return &whatsapp.Component{Type: "header", Parameters: params}, text, nil
	}
	if h.Format == "location" {
		return t.renderLocation(r, event)
	}
	v, err := t.value("header.media", r, event)
	if err != nil {
		return nil, "", err
	}
	media, err := MediaRef(v)
	if err != nil {
		return nil, "", fmt.Errorf("header.media: %w", err)
	}
	p := whatsapp.Parameter{Type: h.Format}
	switch h.Format {
	case "image":
		p.Image = media
	case "document":
		p.Document = media
	default:
		p.Video = media
	}
	return &whatsapp.Component{Type: "header", Parameters: []whatsapp.Parameter{p}}, "[" + h.Format + "]", nil
}

// renderLocation fills a location header: latitude and longitude in decimal degrees, and the
// place's name and address when they are mapped.
func (t *Template) renderLocation(r Recipient, event map[string]any) (*whatsapp.Component, string, error) {
	loc := &whatsapp.Location{}
	for _, c := range []struct {
		key   string
		out   *string
		limit float64
	}{{"header.latitude", &loc.Latitude, 90}, {"header.longitude", &loc.Longitude, 180}} {
		v, err := t.value(c.key, r, event)
		if err != nil {
			return nil, "", err
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.Abs(x) > c.limit {
			return nil, "", fmt.Errorf("%s: %q is not a number of degrees from -%[3]g to %[3]g", c.key, v, c.limit)
		}
		*c.out = strconv.FormatFloat(x, 'f', -1, 64)
	}
	for _, c := range []struct {
		key string
		out *string
	}{{"header.name", &loc.Name}, {"header.address", &loc.Address}} {
		if _, ok := t.Parameters[c.key]; !ok {
			continue
		}
		v, err := t.value(c.key, r, event)
		if err != nil {
			return nil, "", err
		}
		*c.out = v
	}
	p := whatsapp.Parameter{Type: "location", Location: loc}
	return &whatsapp.Component{Type: "header", Parameters: []whatsapp.Parameter{p}},
		strings.TrimSpace("[location] " + loc.Name), nil
}

// mediaIDRE is a media id as Meta answers an upload: digits.
var mediaIDRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// MediaRef reads a media header's value: the id of a file uploaded to Meta (POST
// /v1/channels/{id}/media answers it) or an http(s) link Meta fetches the file from.
func MediaRef(v string) (*whatsapp.Media, error) {
	if mediaIDRE.MatchString(v) {
		return &whatsapp.Media{ID: v}, nil
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > MaxURLLen {
		return nil, fmt.Errorf("%q is neither an uploaded media id nor an http(s) link", v)
	}
	return &whatsapp.Media{Link: v}, nil
}

func (t *Template) renderButton(i int, b Button, r Recipient, event map[string]any) (*whatsapp.Component, string, error) {
	key := "button." + strconv.Itoa(i)
	comp := &whatsapp.Component{Type: "button", SubType: b.Type, Index: strconv.Itoa(i)}
	switch b.Type {
	case "quick_reply":
		payload := b.Text
		if _, ok := t.Parameters[key]; ok {
			v, err := t.value(key, r, event)
			if err != nil {
				return nil, "", err
			}
			payload = v
		}
		comp.Parameters = []whatsapp.Parameter{{Type: "payload", Payload: payload}}
	case "url":
		if !placeholderRE.MatchString(b.URL) {
			return nil, b.Text, nil
		}
		v, err := t.value(key, r, event)
		if err != nil {
			return nil, "", err
		}
		comp.Parameters = []whatsapp.Parameter{{Type: "text", Text: v}}
	case "copy_code":
		v, err := t.value(key, r, event)
		if err != nil {
			return nil, "", err
		}
		comp.Parameters = []whatsapp.Parameter{{Type: "coupon_code", Coupon: v}}
	case "otp": // Meta sends an authentication template's code button as a URL button's parameter
		v, err := t.value(key, r, event)
		if err != nil {
			return nil, "", err
		}
		comp.SubType, comp.Parameters = "url", []whatsapp.Parameter{{Type: "text", Text: v}}
	case "flow":
		token := "unused" // Meta's default
		if _, ok := t.Parameters[key]; ok {
			v, err := t.value(key, r, event)
			if err != nil {
				return nil, "", err
			}
			token = v
		}
		comp.Parameters = []whatsapp.Parameter{{Type: "action", Action: &whatsapp.Action{FlowToken: token}}}
	case "catalog": // Meta shows the catalog's first product without a thumbnail named
		action := &whatsapp.Action{}
		if _, ok := t.Parameters[key]; ok {
			v, err := t.value(key, r, event)
			if err != nil {
				return nil, "", err
			}
			action.ThumbnailProductRetailerID = v
		}
		comp.Parameters = []whatsapp.Parameter{{Type: "action", Action: action}}
	default:
		return nil, b.Text, nil
	}
	return comp, b.Text, nil
}

// fill replaces each placeholder of text ({{n}} or {{name}}) and returns the parameters: in
// order, or each with its name.
func (t *Template) fill(prefix, text string, r Recipient, event map[string]any) (string, []whatsapp.Parameter, error) {
	ids := placeholderNames(text) // named: each parameter carries its name, in any order
	if !named(text) {
		ids = nil
		for i := 1; ; i++ { // positional: {{1}}, {{2}}… in order
			if _, ok := t.Parameters[prefix+"."+strconv.Itoa(i)]; !ok {
				break
			}
			ids = append(ids, strconv.Itoa(i))
		}
	}
	params := make([]whatsapp.Parameter, 0, len(ids))
	values := map[string]string{}
	for _, id := range ids {
		key := prefix + "." + id
		v, err := t.value(key, r, event)
		if err != nil {
			return "", nil, err
		}
		p, shown, err := t.Parameters[key].parameter(key, v)
		if err != nil {
			return "", nil, err
		}
		if named(text) {
			p.ParameterName = id
		}
		params = append(params, p)
		values[id] = shown
	}
	filled := placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		return values[placeholderRE.FindStringSubmatch(m)[1]]
	})
	return filled, params, nil
}

// value resolves a slot to clean text: the source, else the fallback, else an error.
func (t *Template) value(key string, r Recipient, event map[string]any) (string, error) {
	s := t.Parameters[key]
	v := clean(s.resolve(r, event))
	if v == "" {
		v = clean(s.Fallback)
	}
	if v == "" {
		return "", fmt.Errorf("%s: no value for this recipient and no fallback", key)
	}
	if utf8.RuneCountInString(v) > MaxParamLen {
		return "", fmt.Errorf("%s: value longer than %d characters", key, MaxParamLen)
	}
	return v, nil
}

func (s Source) resolve(r Recipient, event map[string]any) string {
	switch s.Source {
	case "fixed":
		return s.Value
	case "attribute":
		return scalarText(r.Attributes[s.Key])
	case "event":
		return scalarText(event[s.Key])
	}
	switch s.Field {
	case "name":
		return r.Name
	case "first_name":
		if f := strings.Fields(r.Name); len(f) > 0 {
			return f[0]
		}
		return ""
	case "email":
		return r.Email
	case "phone":
		return r.Phone
	case "country":
		return r.Country
	}
	return ""
}

// parameter types a value as the Cloud API wants it and returns what the recipient sees.
func (s Source) parameter(key, v string) (whatsapp.Parameter, string, error) {
	switch s.Type {
	case "currency":
		amount, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(amount) || math.IsInf(amount, 0) || math.Abs(amount) > 1e12 {
			return whatsapp.Parameter{}, "", fmt.Errorf("%s: %q is not an amount", key, v)
		}
		shown := s.Currency + " " + strconv.FormatFloat(amount, 'f', 2, 64)
		return whatsapp.Parameter{Type: "currency", Currency: &whatsapp.Currency{
			FallbackValue: shown, Code: s.Currency, Amount1000: int64(math.Round(amount * 1000)),
		}}, shown, nil
	case "date_time":
		return whatsapp.Parameter{Type: "date_time", DateTime: &whatsapp.DateTime{FallbackValue: v}}, v, nil
	}
	return whatsapp.Parameter{Type: "text", Text: v}, v, nil
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// clean makes a value acceptable to Meta, which rejects parameters with new lines, tabs or more
// than four spaces in a row: every run of white space or control characters becomes one space.
func clean(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
