package people

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/dripcast/dripcast/invalid"
)

// argon2id's cost, OWASP's first recommendation: 19 MiB, 2 passes, 1 lane (about 30 ms here).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// Password length bounds: 12 characters at least; a cap keeps hashing cheap for an attacker's
// megabyte-long tries.
const (
	MinPasswordLength = 12
	maxPasswordLength = 256
)

//go:embed common-passwords.txt
var commonList string

// common holds the embedded list of passwords people pick most (lower-cased).
var common = func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonList))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" && !strings.HasPrefix(w, "#") {
			m[strings.ToLower(w)] = true
		}
	}
	return m
}()

// CheckPassword says what is wrong with a new password, as an error on the field "password".
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return invalid.Field("password", "use at least %d characters", MinPasswordLength)
	case n > maxPasswordLength:
		return invalid.Field("password", "use at most %d characters", maxPasswordLength)
	case common[strings.ToLower(password)]:
		return invalid.Field("password", "this password is on the list of the most common ones; choose another")
	case strings.EqualFold(password, email) || strings.EqualFold(password, strings.SplitN(email, "@", 2)[0]):
		return invalid.Field("password", "the password must not be your email address")
	}
	return nil
}

// hashPassword is argon2id in the PHC string format, with a random salt.
func hashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("not an argon2id hash")

// passwordMatches checks password against a PHC string, with the cost it names (so raising the
// cost later still accepts older hashes).
func passwordMatches(password, phc string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// decoyHash is checked when no user has the email, so an unknown email costs the same time as a
// wrong password and cannot be told apart by timing.
var decoyHash = hashPassword("decoy password that matches nothing")
