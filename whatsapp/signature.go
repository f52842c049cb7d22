package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
)

// SignatureHeader carries the HMAC of a webhook body.
const SignatureHeader = "X-Hub-Signature-256"

// Signature errors; all of them mean: do not parse, answer 401.
var (
	ErrSignatureMissing   = errors.New("whatsapp webhook: no X-Hub-Signature-256 header")
	ErrSignatureMalformed = errors.New("whatsapp webhook: X-Hub-Signature-256 is not sha256=<64 hex digits>")
	ErrSignatureMismatch  = errors.New("whatsapp webhook: signature does not match the body")
)

// Sign returns the X-Hub-Signature-256 value of body under the app secret.
func Sign(body []byte, appSecret string) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// CheckSignatureHeader tells a missing or malformed header without computing anything.
func CheckSignatureHeader(header string) error {
	_, err := parseSignature(header)
	return err
}

func parseSignature(header string) ([]byte, error) {
	if header == "" {
		return nil, ErrSignatureMissing
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSum) != sha256.Size*2 {
		return nil, ErrSignatureMalformed
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return nil, ErrSignatureMalformed
	}
	return got, nil
}

// VerifySignature checks header against the raw body in constant time.
func VerifySignature(body []byte, header, appSecret string) error {
	got, err := parseSignature(header)
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	if subtle.ConstantTimeCompare(got, m.Sum(nil)) != 1 {
		return ErrSignatureMismatch
	}
	return nil
}

// VerifyHandshake answers Meta's subscription check (GET ?hub.mode=subscribe&hub.verify_token=…
// &hub.challenge=…): the challenge to echo, or ok false when the token is not ours.
func VerifyHandshake(q url.Values, verifyToken string) (challenge string, ok bool) {
	if q.Get("hub.mode") != "subscribe" || verifyToken == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	return q.Get("hub.challenge"), true
}
