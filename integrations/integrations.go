// Package integrations receives events from other systems: a generic JSON webhook signed with
// HMAC-SHA256 and mapped field by field, and Shopify's order and checkout webhooks. A delivery is
// verified, stored, and later turned into a contact and an event (Process).
package integrations

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The generic webhook's headers. The signature covers everything that decides what happens: the
// timestamp, the delivery id (the dedupe key) and the body, so a captured delivery cannot be
// replayed later, with another body, or under a new delivery id.
const (
	HeaderSignature = "X-Dripcast-Signature" // sha256=<hex HMAC-SHA256(secret, timestamp + "." + delivery id + "." + body)>
	HeaderTimestamp = "X-Dripcast-Timestamp" // Unix seconds
	HeaderDelivery  = "X-Dripcast-Delivery"  // a unique id; a delivery seen before is not processed again
	MaxSkew         = 5 * time.Minute
	MaxDeliveryID   = 200
)

// Shopify's headers. Shopify signs only the body, so its topic, webhook id and time are not
// proof of anything: a delivery is known by the hash of its body, and refused when Shopify says it
// was triggered more than ShopifyMaxAge ago (long enough for Shopify's first retries after a short
// outage here).
const (
	ShopifyHMAC        = "X-Shopify-Hmac-Sha256"
	ShopifyTopic       = "X-Shopify-Topic"
	ShopifyWebhookID   = "X-Shopify-Webhook-Id"
	ShopifyTriggeredAt = "X-Shopify-Triggered-At" // RFC 3339
	ShopifyMaxAge      = time.Hour
)

// Kinds of integrations.
const (
	Generic = "generic"
	Shopify = "shopify"
)

// Verification errors: each means 401, nothing stored.
var (
	ErrMissing   = errors.New("the signature header is missing")
	ErrMalformed = errors.New("the signature header is malformed")
	ErrMismatch  = errors.New("the signature does not match the body")
	ErrStale     = errors.New("the timestamp is missing or too far from now (generic: 5 minutes; Shopify: triggered within the hour)")
)

// Delivery is a verified request: its id (for dedupe) and topic.
type Delivery struct {
	ID    string
	Topic string
}

// SignGeneric is the X-Dripcast-Signature of body sent at ts with a delivery id ("" for none).
func SignGeneric(body []byte, secret string, ts time.Time, deliveryID string) string {
	return "sha256=" + hex.EncodeToString(mac(secret, genericPrefix(ts.Unix(), deliveryID), body))
}

func genericPrefix(ts int64, deliveryID string) []byte {
	return []byte(strconv.FormatInt(ts, 10) + "." + deliveryID + ".")
}

// SignShopify is the X-Shopify-Hmac-Sha256 of body.
func SignShopify(body []byte, secret string) string {
	return base64.StdEncoding.EncodeToString(mac(secret, body))
}

func mac(secret string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Verify checks a delivery of the given kind before anything reads its body as JSON.
func Verify(kind string, h http.Header, body []byte, secret string, now time.Time) (Delivery, error) {
	if kind == Shopify {
		return verifyShopify(h, body, secret, now)
	}
	return verifyGeneric(h, body, secret, now)
}

func verifyGeneric(h http.Header, body []byte, secret string, now time.Time) (Delivery, error) {
	sig := h.Get(HeaderSignature)
	if sig == "" {
		return Delivery{}, ErrMissing
	}
	hexSum, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSum)
	if !ok || err != nil || len(got) != sha256.Size {
		return Delivery{}, ErrMalformed
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return Delivery{}, ErrStale
	}
	id := h.Get(HeaderDelivery)
	if subtle.ConstantTimeCompare(got, mac(secret, genericPrefix(ts, id), body)) != 1 {
		return Delivery{}, ErrMismatch
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return Delivery{}, ErrStale
	}
	if id == "" {
		// No id: the body identifies the delivery, so a sender's retry is still recognised.
		id = bodyID(body)
	}
	return Delivery{ID: id}, checkID(id)
}

func verifyShopify(h http.Header, body []byte, secret string, now time.Time) (Delivery, error) {
	sig := h.Get(ShopifyHMAC)
	if sig == "" {
		return Delivery{}, ErrMissing
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return Delivery{}, ErrMalformed
	}
	if subtle.ConstantTimeCompare(got, mac(secret, body)) != 1 {
		return Delivery{}, ErrMismatch
	}
	at, err := time.Parse(time.RFC3339Nano, h.Get(ShopifyTriggeredAt))
	if err != nil || now.Sub(at) > ShopifyMaxAge || at.Sub(now) > MaxSkew {
		return Delivery{}, ErrStale
	}
	// The same body under another webhook id or topic is the same delivery.
	return Delivery{ID: bodyID(body), Topic: h.Get(ShopifyTopic)}, nil
}

func bodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func checkID(id string) error {
	if len(id) > MaxDeliveryID {
		return fmt.Errorf("%w: the delivery id is longer than %d characters", ErrMalformed, MaxDeliveryID)
	}
	return nil
}
