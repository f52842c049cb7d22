package templates

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/invalid"
)

func orderTemplate() Template {
	return Template{
		Name: "order_update", Language: "en_US", Category: "utility",
		Components: Components{
			Header:  &Header{Format: "image"},
			Body:    Text{Text: "Hi {{1}}, your order {{2}} of {{3}} ships today."},
			Footer:  &Text{Text: "Reply STOP to opt out"},
			Buttons: []Button{{Type: "quick_reply", Text: "Stop promotions"}, {Type: "url", Text: "Track", URL: "https://shop.example/track/{{1}}"}},
		},
		Parameters: Mapping{
			"header.media": {Source: "fixed", Value: "https://cdn.example/p.jpg"},
			"body.1":       {Source: "contact", Field: "first_name", Fallback: "there"},
			"body.2":       {Source: "event", Key: "order_id"},
			"body.3":       {Source: "event", Key: "total", Type: "currency", Currency: "INR"},
			"button.0":     {Source: "fixed", Value: "STOP_PROMO"},
			"button.1":     {Source: "event", Key: "order_id"},
		},
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tpl := orderTemplate()
	if err := tpl.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(Recipient{Name: "Asha\tRao"}, map[string]any{"order_id": "A-1\n001", "total": 1299.5})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out.Components)
	want := `[{"type":"header","parameters":[{"type":"image","image":{"link":"https://cdn.example/p.jpg"}}]},` +
		`{"type":"body","parameters":[{"type":"text","text":"Asha"},{"type":"text","text":"A-1 001"},` +
		`{"type":"currency","currency":{"fallback_value":"INR 1299.50","code":"INR","amount_1000":1299500}}]},` +
		`{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"STOP_PROMO"}]},` +
		`{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"A-1 001"}]}]`
	if string(got) != want {
		t.Fatalf("components\n got %s\nwant %s", got, want)
	}
	if out.Preview.Body != "Hi Asha, your order A-1 001 of INR 1299.50 ships today." {
		t.Fatalf("preview %q", out.Preview.Body)
	}
}

func TestRenderFallbackAndMissing(t *testing.T) {
	t.Parallel()
	tpl := orderTemplate()
	out, err := tpl.Render(Recipient{}, map[string]any{"order_id": 77, "total": "10"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Preview.Body, "Hi there, your order 77 ") {
		t.Fatalf("fallback not used: %q", out.Preview.Body)
	}
	if _, err := tpl.Render(Recipient{Name: "A"}, nil); err == nil || !strings.Contains(err.Error(), "body.2") {
		t.Fatalf("missing event value: %v", err)
	}
	if _, err := tpl.Render(Recipient{Name: "A"}, map[string]any{"order_id": "1", "total": "ten"}); err == nil {
		t.Fatal("a non-numeric currency amount rendered")
	}
}

// A media header takes an uploaded file's id or a link, per contact from an attribute; anything
// else stops that contact's send with a reason, not the broadcast.
func TestRenderMedia(t *testing.T) {
	t.Parallel()
	tpl := orderTemplate()
	tpl.Parameters["header.media"] = Source{Source: "attribute", Key: "photo", Fallback: "1234567890"}
	if err := tpl.Validate(); err != nil {
		t.Fatal(err)
	}
	event := map[string]any{"order_id": "1", "total": "10"}
	for photo, want := range map[any]string{
		nil:                         `{"type":"image","image":{"id":"1234567890"}}`,
		"987":                       `{"type":"image","image":{"id":"987"}}`,
		"https://cdn.example/a.png": `{"type":"image","image":{"link":"https://cdn.example/a.png"}}`,
	} {
		out, err := tpl.Render(Recipient{Attributes: map[string]any{"photo": photo}}, event)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(out.Components[0].Parameters[0]); string(got) != want {
			t.Errorf("photo %v: got %s, want %s", photo, got, want)
		}
	}
	if _, err := tpl.Render(Recipient{Attributes: map[string]any{"photo": "photo.jpg"}}, event); err == nil ||
		!strings.Contains(err.Error(), "header.media") {
		t.Errorf("a bare file name rendered: %v", err)
	}
}

// A template of named parameters (Meta's parameter_format NAMED) maps each name once, however
// often the text repeats it, and sends each parameter with its name.
func TestRenderNamed(t *testing.T) {
	t.Parallel()
	tpl := Template{Name: "shipped", Language: "en", Category: "utility",
		Components: Components{Header: &Header{Format: "text", Text: "Order {{order_id}}"},
			Body: Text{Text: "Hi {{first_name}}, order {{order_id}} ships today. Thanks, {{first_name}}!"}},
		Parameters: Mapping{"header.order_id": {Source: "event", Key: "order"}, "body.first_name": {Source: "contact", Field: "first_name"},
			"body.order_id": {Source: "event", Key: "order"}}}
	if err := tpl.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(Recipient{Name: "Asha Rao"}, map[string]any{"order": "A-7"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out.Components)
	want := `[{"type":"header","parameters":[{"type":"text","parameter_name":"order_id","text":"A-7"}]},` +
		`{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Asha"},{"type":"text","parameter_name":"order_id","text":"A-7"}]}]`
	if string(got) != want || out.Preview.Body != "Hi Asha, order A-7 ships today. Thanks, Asha!" {
		t.Fatalf("components\n got %s\nwant %s\npreview %q", got, want, out.Preview.Body)
	}
	for text, field := range map[string]string{
		"Hi {{first_name}} and {{1}}": "components.body.text",       // one format or the other
		"Hi {{First}}":                "parameters.body.first_name", // not a name Meta takes: a literal, no slot
	} {
		bad := tpl
		bad.Components.Header = nil
		bad.Components.Body.Text = text
		bad.Parameters = Mapping{"body.first_name": {Source: "fixed", Value: "x"}}
		if fe, ok := invalid.As(bad.Validate()); !ok || fe.Field != field {
			t.Errorf("%q: %v, want an error on %s", text, bad.Validate(), field)
		}
	}
}

// A location header sends its place: latitude and longitude (from the contact's attributes, say)
// in range, and the name and address when mapped.
func TestRenderLocation(t *testing.T) {
	t.Parallel()
	tpl := Template{Name: "store", Language: "en", Category: "utility",
		Components: Components{Header: &Header{Format: "location"}, Body: Text{Text: "Your nearest store."}},
		Parameters: Mapping{"header.latitude": {Source: "attribute", Key: "lat"}, "header.longitude": {Source: "attribute", Key: "long"},
			"header.name": {Source: "fixed", Value: "Pune store"}}}
	if err := tpl.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(Recipient{Attributes: map[string]any{"lat": 18.5204, "long": "73.8567"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(out.Components[0])
	want := `{"type":"header","parameters":[{"type":"location","location":{"latitude":"18.5204","longitude":"73.8567","name":"Pune store"}}]}`
	if string(got) != want || out.Preview.Header != "[location] Pune store" {
		t.Fatalf("header\n got %s\nwant %s\npreview %q", got, want, out.Preview.Header)
	}
	if _, err := tpl.Render(Recipient{Attributes: map[string]any{"lat": 118.5, "long": 73.8}}, nil); err == nil || !strings.Contains(err.Error(), "header.latitude") {
		t.Errorf("a latitude of 118.5 rendered: %v", err)
	}
	bad := tpl
	bad.Parameters = Mapping{"header.latitude": {Source: "attribute", Key: "lat", Type: "currency", Currency: "INR"},
		"header.longitude": {Source: "attribute", Key: "long"}}
	if fe, ok := invalid.As(bad.Validate()); !ok || fe.Field != "parameters.header.latitude.type" {
		t.Errorf("a currency latitude: %v", bad.Validate())
	}
}

// A Flow button sends its token (Meta's "unused" when none is mapped); an authentication
// template's code button sends the code as a URL button's parameter, as Meta wants it; a catalog
// button names the product its thumbnail shows.
func TestRenderFlowAndCodeButtons(t *testing.T) {
	t.Parallel()
	otp := Template{Name: "login_code", Language: "en", Category: "authentication",
		Components: Components{Body: Text{Text: "{{1}} is your code."}, Buttons: []Button{{Type: "otp", Text: "Copy code"}}},
		Parameters: Mapping{"body.1": {Source: "event", Key: "code"}, "button.0": {Source: "event", Key: "code"}}}
	flow := Template{Name: "book", Language: "en", Category: "marketing",
		Components: Components{Body: Text{Text: "Book a visit."}, Buttons: []Button{{Type: "flow", Text: "Book"}}}, Parameters: Mapping{}}
	want := map[string]string{
		"otp":        `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"482913"}]}`,
		"flow":       `{"type":"button","sub_type":"flow","index":"0","parameters":[{"type":"action","action":{"flow_token":"unused"}}]}`,
		"flow token": `{"type":"button","sub_type":"flow","index":"0","parameters":[{"type":"action","action":{"flow_token":"visit-482913"}}]}`,
	}
	flowToken := flow
	flowToken.Parameters = Mapping{"button.0": {Source: "fixed", Value: "visit-482913"}}
	catalog := Template{Name: "new_in", Language: "en", Category: "marketing",
		Components: Components{Body: Text{Text: "New in store."}, Buttons: []Button{{Type: "catalog", Text: "View catalog"}}},
		Parameters: Mapping{"button.0": {Source: "attribute", Key: "favourite_sku", Fallback: "SKU-1"}}}
	want["catalog"] = `{"type":"button","sub_type":"catalog","index":"0","parameters":[{"type":"action","action":{"thumbnail_product_retailer_id":"SKU-1"}}]}`
	for name, tpl := range map[string]Template{"otp": otp, "flow": flow, "flow token": flowToken, "catalog": catalog} {
		if err := tpl.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := tpl.Render(Recipient{}, map[string]any{"code": "482913"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := json.Marshal(out.Components[len(out.Components)-1]); string(got) != want[name] {
			t.Errorf("%s\n got %s\nwant %s", name, got, want[name])
		}
	}
	delete(otp.Parameters, "button.0")
	if fe, ok := invalid.As(otp.Validate()); !ok || fe.Field != "parameters.button.0" {
		t.Errorf("a code button without its code: %v", otp.Validate())
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*Template){
		"name":                       func(t *Template) { t.Name = "Order Update" },
		"language":                   func(t *Template) { t.Language = "english" },
		"category":                   func(t *Template) { t.Category = "promo" },
		"status":                     func(t *Template) { t.Status = "live" },
		"components.body.text":       func(t *Template) { t.Components.Body.Text = "Hi {{1}} and {{3}}" },
		"parameters.body.2":          func(t *Template) { delete(t.Parameters, "body.2") },
		"parameters.body.9":          func(t *Template) { t.Parameters["body.9"] = Source{Source: "fixed", Value: "x"} },
		"parameters.body.1.field":    func(t *Template) { t.Parameters["body.1"] = Source{Source: "contact", Field: "password"} },
		"parameters.body.2.key":      func(t *Template) { t.Parameters["body.2"] = Source{Source: "event", Key: "a b"} },
		"parameters.body.3.currency": func(t *Template) { t.Parameters["body.3"] = Source{Source: "event", Key: "t", Type: "currency"} },
		"parameters.body.1.source":   func(t *Template) { t.Parameters["body.1"] = Source{Source: "sql"} },
		"parameters.header.media":    func(t *Template) { delete(t.Parameters, "header.media") },
		"parameters.header.media.value": func(t *Template) {
			t.Parameters["header.media"] = Source{Source: "fixed", Value: "ftp://cdn.example/p.jpg"}
		},
		"parameters.header.media.fallback": func(t *Template) {
			t.Parameters["header.media"] = Source{Source: "attribute", Key: "photo", Fallback: "photo.jpg"}
		},
		"components.header.format":   func(t *Template) { t.Components.Header.Format = "gif" },
		"components.footer.text":     func(t *Template) { t.Components.Footer.Text = "Hi {{1}}" },
		"components.buttons[1].url":  func(t *Template) { t.Components.Buttons[1].URL = "https://x/{{1}}/y" },
		"components.buttons[0].text": func(t *Template) { t.Components.Buttons[0].Text = strings.Repeat("x", 26) },
	}
	for field, mutate := range cases {
		tpl := orderTemplate()
		mutate(&tpl)
		err := tpl.Validate()
		fe, ok := invalid.As(err)
		if !ok || fe.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

// Rendering never panics, and what it returns has no characters Meta refuses in a parameter.
func FuzzRender(f *testing.F) {
	f.Add("Hi {{1}}, {{2}}", "Asha", "x\ty", 12.5)
	f.Add("{{1}}", "", "", 0.0)
	f.Fuzz(func(t *testing.T, body, name, prop string, amount float64) {
		tpl := Template{Name: "t", Language: "en", Category: "marketing", Components: Components{Body: Text{Text: body}},
			Parameters: Mapping{"body.1": {Source: "contact", Field: "name", Fallback: "friend"},
				"body.2": {Source: "event", Key: "p", Fallback: "x"}, "body.3": {Source: "fixed", Value: "1", Type: "currency", Currency: "USD"}}}
		for k := range tpl.Parameters {
			if !strings.Contains(body, "{{"+k[len("body."):]+"}}") {
				delete(tpl.Parameters, k)
			}
		}
		if tpl.Validate() != nil {
			return
		}
		out, err := tpl.Render(Recipient{Name: name}, map[string]any{"p": prop, "n": amount})
		if err != nil {
			return
		}
		for _, c := range out.Components {
			for _, p := range c.Parameters {
				if strings.ContainsAny(p.Text, "\n\t\r") || strings.Contains(p.Text, "     ") {
					t.Fatalf("parameter %q has characters Meta refuses", p.Text)
				}
			}
		}
	})
}
