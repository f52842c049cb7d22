// Package apikey makes and checks API keys. A key reads "dc_<prefix>_<secret>": the prefix is
// public and finds the key's row; only a SHA-256 of the 32-byte random secret is stored. A fast
// hash is enough because the secret has 256 bits of entropy: there is nothing to brute-force.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Key is a new key: Token is shown once to its owner; Prefix and Hash are stored.
type Key struct {
	Token  string
	Prefix string
	Hash   []byte
}

// New makes a random key.
func New() Key {
	p := make([]byte, 6)
	s := make([]byte, 32)
	_, _ = rand.Read(p) // crypto/rand.Read never fails on Linux
	_, _ = rand.Read(s)
	prefix := hex.EncodeToString(p)
	secret := base64.RawURLEncoding.EncodeToString(s)
	return Key{Token: "dc_" + prefix + "_" + secret, Prefix: prefix, Hash: hash(secret)}
}

// Parse splits a token into its prefix and secret.
func Parse(token string) (prefix, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, "dc_")
	if !ok {
		return "", "", false
	}
	prefix, secret, ok = strings.Cut(rest, "_")
	if !ok || len(prefix) != 12 || len(secret) != 43 {
		return "", "", false
	}
	return prefix, secret, true
}

// Matches compares a secret with a stored hash in constant time.
func Matches(secret string, stored []byte) bool {
	return subtle.ConstantTimeCompare(hash(secret), stored) == 1
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
