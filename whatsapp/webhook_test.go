package whatsapp

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func parseFile(t *testing.T, name string) Notification {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	n, err := ParseNotification(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func onlyValue(t *testing.T, n Notification) any {
	t.Helper()
	if len(n.Entry) != 1 || len(n.Entry[0].Changes) != 1 {
		t.Fatalf("want one change, got %+v", n)
	}
	v, ok, err := n.Entry[0].Changes[0].Decode()
	if err != nil || !ok {
		t.Fatalf("decode: %v, known %v", err, ok)
	}
	return v
}

func TestParseMetaExamples(t *testing.T) {
	t.Parallel()
	v := onlyValue(t, parseFile(t, "status_delivered.json")).(*MessagesValue)
	s := v.Statuses[0]
	if v.Metadata.PhoneNumberID != "106540352242922" || s.Status != "delivered" || s.RecipientID != "16505551234" ||
		!s.Time().Equal(time.Unix(1750030073, 0)) || s.Pricing == nil || s.Pricing.Category != "marketing" || !s.Pricing.Billable {
		t.Errorf("delivered status: %+v", v)
	}

	v = onlyValue(t, parseFile(t, "status_failed.json")).(*MessagesValue)
	s = v.Statuses[0]
	if s.Status != "failed" || s.BizOpaqueCallbackData != "42" || len(s.Errors) != 1 || s.Errors[0].Code != 131047 ||
		s.Errors[0].ErrorData.Details == "" || ClassifyCode(s.Errors[0].Code).Class != PermanentRecipient {
		t.Errorf("failed status: %+v", s)
	}

	v = onlyValue(t, parseFile(t, "inbound_text.json")).(*MessagesValue)
	if m := v.Messages[0]; m.Type != "text" || m.Content() != "Does it come in another color?" || m.Time().IsZero() {
		t.Errorf("inbound text: %+v", m)
	}
	v = onlyValue(t, parseFile(t, "inbound_button.json")).(*MessagesValue)
	if m := v.Messages[0]; m.Content() != "STOP_PROMO" || m.Context == nil || m.Context.ID != "wamid.TEMPLATE" || m.From != "16315551234" {
		t.Errorf("button reply: %+v", m)
	}

	up := onlyValue(t, parseFile(t, "user_preferences.json")).(*UserPreferencesValue)
	if p := up.UserPreferences[0]; p.Value != "stop" || p.Category != "marketing_messages" || p.WaID != "16505551234" {
		t.Errorf("user preferences: %+v", up)
	}
	q := onlyValue(t, parseFile(t, "quality.json")).(*QualityUpdate)
	if q.Event != "DOWNGRADE" || q.MaxDailyConversationsPerBusiness != "TIER_2K" || q.OldLimit != "TIER_10K" {
		t.Errorf("quality: %+v", q)
	}
	ts := onlyValue(t, parseFile(t, "template_status.json")).(*TemplateStatusUpdate)
	if ts.Event != "PAUSED" || ts.MessageTemplateName != "summer_sale" || ts.MessageTemplateLanguage != "en_US" || ts.MessageTemplateID != 1234567890 {
		t.Errorf("template status: %+v", ts)
	}

	n := parseFile(t, "unknown_kind.json")
	if _, ok, err := n.Entry[0].Changes[0].Decode(); ok || err != nil {
		t.Errorf("an unknown kind: known %v, err %v", ok, err)
	}
}

func TestParseRejectsNonsense(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", "[]", "{", `{"entry":"x"}`} {
		if _, err := ParseNotification([]byte(body)); err == nil {
			t.Errorf("%q parsed", body)
		}
	}
	c := Change{Field: FieldMessages, Value: []byte(`{"statuses":"nope"}`)}
	if _, ok, err := c.Decode(); !ok || err == nil {
		t.Error("a malformed statuses value decoded")
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"object":"whatsapp_business_account"}`)
	good := Sign(body, "s3cret")
	cases := map[string]struct {
		header string
		want   error
	}{
		"good":           {good, nil},
		"missing":        {"", ErrSignatureMissing},
		"no prefix":      {good[len("sha256="):], ErrSignatureMalformed},
		"sha1":           {"sha1=" + good[len("sha256="):], ErrSignatureMalformed},
		"truncated":      {good[:len(good)-2], ErrSignatureMalformed},
		"not hex":        {"sha256=" + string(make([]byte, 64)), ErrSignatureMalformed},
		"other secret":   {Sign(body, "other"), ErrSignatureMismatch},
		"other body":     {Sign([]byte(`{}`), "s3cret"), ErrSignatureMismatch},
		"upper-case hex": {"sha256=" + strings.ToUpper(good[len("sha256="):]), nil},
	}
	for name, c := range cases {
		if err := VerifySignature(body, c.header, "s3cret"); err != c.want {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if VerifySignature(append(body, ' '), good, "s3cret") == nil {
		t.Error("a body changed by one byte verified")
	}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"tok"}, "hub.challenge": {"1158201444"}}
	if c, ok := VerifyHandshake(q, "tok"); !ok || c != "1158201444" {
		t.Fatalf("good handshake: %q %v", c, ok)
	}
	for _, bad := range []url.Values{
		{"hub.mode": {"subscribe"}, "hub.verify_token": {"nope"}, "hub.challenge": {"1"}},
		{"hub.mode": {"unsubscribe"}, "hub.verify_token": {"tok"}, "hub.challenge": {"1"}},
		{"hub.challenge": {"1"}},
	} {
		if _, ok := VerifyHandshake(bad, "tok"); ok {
			t.Errorf("handshake %v accepted", bad)
		}
	}
	if _, ok := VerifyHandshake(url.Values{"hub.mode": {"subscribe"}}, ""); ok {
		t.Error("an empty verify token accepted an empty one")
	}
}

// Parsing never panics, and whatever parses decodes without panicking either.
func FuzzParseNotification(f *testing.F) {
	files, _ := os.ReadDir("testdata")
	for _, e := range files {
		if b, err := os.ReadFile("testdata/" + e.Name()); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseNotification(body)
		if err != nil {
			return
		}
		for _, e := range n.Entry {
			for _, c := range e.Changes {
				v, _, err := c.Decode()
				if m, ok := v.(*MessagesValue); ok && err == nil {
					for _, msg := range m.Messages {
						_ = msg.Content()
						_ = msg.Time()
					}
					for _, s := range m.Statuses {
						_ = s.Time()
					}
				}
			}
		}
	})
}

// A signature verifies exactly when it is the HMAC of the body.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "sha256=00", "secret")
	f.Add([]byte(``), Sign(nil, "k"), "k")
	f.Fuzz(func(t *testing.T, body []byte, header, secret string) {
		err := VerifySignature(body, header, secret)
		if err == nil && !strings.EqualFold(header, Sign(body, secret)) {
			t.Fatalf("header %q verified for a body it does not sign", header)
		}
		if VerifySignature(body, Sign(body, secret), secret) != nil {
			t.Fatal("a correct signature failed")
		}
	})
}
