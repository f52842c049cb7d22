// Package secrets encrypts the secrets Dripcast keeps at rest (Meta access tokens, app secrets,
// integration secrets) with AES-256-GCM. Every ciphertext names the key that sealed it, so keys can be rotated: new
// secrets use the first key, old ones still open with theirs.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Purposes bind each kind of secret to its use: a ciphertext opens only with the purpose it was
// sealed for.
const (
	PurposeAccessToken = "channel.access_token"
	PurposeAppSecret   = "channel.app_secret"
	PurposeIntegration = "integration.secret"
	PurposeTOTP        = "user.totp_secret"
)

// bind ties a purpose to the row a secret lives in (a table and the row's unchanging natural key,
// such as "channel:<phone_number_id>"), so a ciphertext copied into another row does not open.
func bind(purpose, row string) string { return purpose + "\x00" + row }

// ChannelToken, ChannelAppSecret and IntegrationSecret are the bound purposes of the secrets
// Dripcast keeps, each tied to its row by a key that never changes.
func ChannelToken(phoneNumberID string) string {
	return bind(PurposeAccessToken, "channel:"+phoneNumberID)
}

// ChannelAppSecret: see ChannelToken.
func ChannelAppSecret(phoneNumberID string) string {
	return bind(PurposeAppSecret, "channel:"+phoneNumberID)
}

// IntegrationSecret: see ChannelToken; an integration is known by its URL token.
func IntegrationSecret(token string) string { return bind(PurposeIntegration, "integration:"+token) }

// UserTOTP: see ChannelToken; a console user's TOTP secret, known by the user's id.
func UserTOTP(userID int64) string { return bind(PurposeTOTP, "user:"+strconv.FormatInt(userID, 10)) }

// Box seals and opens secrets.
type Box struct {
	active string
	keys   map[string]cipher.AEAD
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ErrUndecryptable means a ciphertext was sealed by an unknown key or was altered.
var ErrUndecryptable = errors.New("secret cannot be decrypted (unknown key or altered data)")

// New reads keys written "id:base64key,id:base64key" (32-byte keys); the first one seals.
func New(spec string) (*Box, error) {
	b := &Box{keys: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		id, k, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !keyID.MatchString(id) {
			return nil, fmt.Errorf("key %d: write it as <id>:<base64 of 32 bytes>", i+1)
		}
		raw, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("key %q: not the base64 of 32 bytes (make one with `openssl rand -base64 32`)", id)
		}
		block, _ := aes.NewCipher(raw)
		gcm, _ := cipher.NewGCM(block)
		if _, dup := b.keys[id]; dup {
			return nil, fmt.Errorf("key %q is listed twice", id)
		}
		b.keys[id] = gcm
		if i == 0 {
			b.active = id
		}
	}
	return b, nil
}

// NewKey makes a random key spec with one key, for first runs and tests.
func NewKey(id string) string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return id + ":" + base64.StdEncoding.EncodeToString(k)
}

// Seal encrypts plain; purpose is bound to the ciphertext (a token cannot be opened as a secret).
func (b *Box) Seal(plain, purpose string) []byte {
	gcm := b.keys[b.active]
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte{byte(len(b.active))}, b.active...)
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, []byte(plain), []byte(purpose))
}

// Open decrypts what Seal made with the same purpose. A secret sealed before secrets were bound to
// their rows opens with the purpose alone (bind's first part) until `dripcast admin rotate-key`
// seals it again, bound.
func (b *Box) Open(sealed []byte, purpose string) (string, error) {
	plain, err := b.OpenBound(sealed, purpose)
	if base, _, bound := strings.Cut(purpose, "\x00"); err != nil && bound {
		return b.OpenBound(sealed, base)
	}
	return plain, err
}

// OpenBound decrypts only what was sealed with exactly this purpose.
func (b *Box) OpenBound(sealed []byte, purpose string) (string, error) {
	id, rest, ok := cut(sealed)
	if !ok {
		return "", ErrUndecryptable
	}
	gcm, ok := b.keys[id]
	if !ok || len(rest) < gcm.NonceSize() {
		return "", ErrUndecryptable
	}
	plain, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], []byte(purpose))
	if err != nil {
		return "", ErrUndecryptable
	}
	return string(plain), nil
}

// KeyID names the key that sealed a ciphertext ("" if malformed), to find rows to re-encrypt.
func KeyID(sealed []byte) string {
	id, _, _ := cut(sealed)
	return id
}

// Active is the id of the key that seals.
func (b *Box) Active() string { return b.active }

func cut(sealed []byte) (string, []byte, bool) {
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0]) {
		return "", nil, false
	}
	n := int(sealed[0])
	return string(sealed[1 : 1+n]), sealed[1+n:], true
}
