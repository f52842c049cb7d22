package integrations

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestVerifyGeneric(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"order.placed"}`)
	now := time.Unix(1_900_000_000, 0)
	headers := func(sig string, ts time.Time, id string) http.Header {
		h := http.Header{}
		if sig != "" {
			h.Set(HeaderSignature, sig)
		}
		h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		if id != "" {
			h.Set(HeaderDelivery, id)
		}
		return h
	}
	good := SignGeneric(body, "s3cret", now, "d1")
	cases := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"good", headers(good, now, "d1"), body, nil},
		{"missing", headers("", now, "d1"), body, ErrMissing},
		{"not hex", headers("sha256=zz", now, "d1"), body, ErrMalformed},
		{"truncated", headers(good[:40], now, "d1"), body, ErrMalformed},
		{"other secret", headers(SignGeneric(body, "other", now, "d1"), now, "d1"), body, ErrMismatch},
		{"replayed under a new delivery id", headers(good, now, "d2"), body, ErrMismatch},
		{"delivery id dropped", headers(good, now, ""), body, ErrMismatch},
		{"other body", headers(good, now, "d1"), []byte(`{"event":"order.cancelled"}`), ErrMismatch},
		{"timestamp moved", headers(good, now.Add(time.Second), "d1"), body, ErrMismatch},
		{"stale", headers(SignGeneric(body, "s3cret", now.Add(-6*time.Minute), "d1"), now.Add(-6*time.Minute), "d1"), body, ErrStale},
		{"from the future", headers(SignGeneric(body, "s3cret", now.Add(6*time.Minute), "d1"), now.Add(6*time.Minute), "d1"), body, ErrStale},
	}
	for _, c := range cases {
		d, err := Verify(Generic, c.h, c.body, "s3cret", now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if c.want == nil && d.ID != "d1" {
			t.Errorf("%s: delivery id %q", c.name, d.ID)
		}
	}
	// Without an id, the body names the delivery: a retry of it is recognised.
	noID := SignGeneric(body, "s3cret", now, "")
	a, _ := Verify(Generic, headers(noID, now, ""), body, "s3cret", now)
	b, _ := Verify(Generic, headers(noID, now, ""), body, "s3cret", now)
	if a.ID == "" || a.ID != b.ID {
		t.Errorf("ids from the body: %q %q", a.ID, b.ID)
	}
}

func TestVerifyShopify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":1}`)
	now := time.Now()
	h := http.Header{}
	h.Set(ShopifyHMAC, SignShopify(body, "shpss"))
	h.Set(ShopifyTopic, "orders/create")
	h.Set(ShopifyWebhookID, "w-1")
	h.Set(ShopifyTriggeredAt, now.Add(-time.Minute).Format(time.RFC3339Nano))
	d, err := Verify(Shopify, h, body, "shpss", now)
	if err != nil || d.ID != bodyID(body) || d.Topic != "orders/create" {
		t.Fatalf("%+v %v", d, err)
	}
	// Shopify does not sign its webhook id or topic: replayed under others, it is the same delivery.
	h.Set(ShopifyWebhookID, "w-2")
	h.Set(ShopifyTopic, "checkouts/update")
	if again, err := Verify(Shopify, h, body, "shpss", now); err != nil || again.ID != d.ID {
		t.Errorf("a replay under a new webhook id and topic: %+v %v", again, err)
	}
	if _, err := Verify(Shopify, h, body, "other", now); !errors.Is(err, ErrMismatch) {
		t.Errorf("other secret: %v", err)
	}
	for _, at := range []string{"", "yesterday", now.Add(-2 * time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)} {
		h.Set(ShopifyTriggeredAt, at)
		if _, err := Verify(Shopify, h, body, "shpss", now); !errors.Is(err, ErrStale) {
			t.Errorf("triggered at %q: %v", at, err)
		}
	}
	h.Set(ShopifyHMAC, "not base64!")
	if _, err := Verify(Shopify, h, body, "shpss", now); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
}

func payload(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestShopifyApply(t *testing.T) {
	t.Parallel()
	checkout := payload(t, `{"token": "ck1", "cart_token": "ct1", "abandoned_checkout_url": "https://shop/ck1", "total_price": "49.90",
		"currency": "INR", "email": "a@b.in", "billing_address": {"phone": "+91 98200 00001", "first_name": "Asha"}}`)
	m, err := ShopifyApply("checkouts/update", checkout)
	if err != nil || m.Event != "cart.abandoned" || m.Contact.Phone != "+91 98200 00001" || *m.Contact.Name != "Asha" ||
		m.Properties["checkout_url"] != "https://shop/ck1" || m.Properties["checkout_token"] != "ck1" {
		t.Fatalf("checkout: %+v %v", m, err)
	}
	order := payload(t, `{"id": 5, "name": "#1005", "checkout_token": "ck1", "customer": {"phone": "+919820000001", "first_name": "Asha", "last_name": "R"}}`)
	if m, err := ShopifyApply("orders/create", order); err != nil || m.Event != "order.placed" || m.Properties["checkout_token"] != "ck1" ||
		*m.Contact.Name != "Asha R" || m.Properties["order_number"] != "#1005" {
		t.Fatalf("order: %+v %v", m, err)
	}
	if _, err := ShopifyApply("products/create", order); !errors.Is(err, ErrIgnored) {
		t.Errorf("a topic we do not use: %v", err)
	}
	if _, err := ShopifyApply("orders/create", payload(t, `{"id": 6}`)); err == nil {
		t.Error("an order without a phone number was accepted")
	}
}

func TestGenericMapping(t *testing.T) {
	t.Parallel()
	m := Mapping{Phone: "lead.phone", Name: "lead.name", Event: "kind", Attributes: map[string]string{"plan": "lead.plan"}, Properties: "data"}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	out, err := m.Apply(payload(t, `{"kind": "trial.started", "lead": {"phone": "+14155550100", "name": "Lee", "plan": "pro"}, "data": {"days": 14}}`))
	if err != nil || out.Event != "trial.started" || out.Contact.Phone != "+14155550100" || out.Contact.Attributes["plan"] != "pro" ||
		out.Properties["days"] != float64(14) {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := m.Apply(payload(t, `{"kind": "Trial Started", "lead": {"phone": "+14155550100"}, "data": {}}`)); err == nil {
		t.Error("a bad event name was accepted")
	}
	for _, bad := range []Mapping{{}, {Phone: "p"}, {Phone: "p", Event: "e", EventName: "a.b"}, {Phone: "p", EventName: "A B"},
		{Phone: "p", EventName: "a.b", Attributes: map[string]string{"bad key!": "x"}}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// Any body and headers: verification never panics and accepts only the right signature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "sha256=00", "1900000000", "d")
	f.Add([]byte(``), "", "", "")
	f.Fuzz(func(t *testing.T, body []byte, sig, ts, id string) {
		h := http.Header{}
		h.Set(HeaderSignature, sig)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderDelivery, id)
		now := time.Unix(1_900_000_000, 0)
		if _, err := Verify(Generic, h, body, "secret", now); err == nil && sig != SignGeneric(body, "secret", time.Unix(mustInt(ts), 0), h.Get(HeaderDelivery)) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
		h.Set(ShopifyHMAC, sig)
		_, _ = Verify(Shopify, h, body, "secret", now)
	})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
