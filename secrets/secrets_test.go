package secrets

import (
	"bytes"
	"strings"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	t.Parallel()
	k1, k2 := NewKey("k1"), NewKey("k2")
	old, err := New(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed := old.Seal("EAAG-token", "channel.access_token")
	if bytes.Contains(sealed, []byte("EAAG-token")) {
		t.Fatal("the plain text is in the ciphertext")
	}
	if got, err := old.Open(sealed, "channel.access_token"); err != nil || got != "EAAG-token" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := old.Open(sealed, "channel.app_secret"); err != ErrUndecryptable {
		t.Fatal("a ciphertext opened for another purpose")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := old.Open(tampered, "channel.access_token"); err != ErrUndecryptable {
		t.Fatal("an altered ciphertext opened")
	}
	// Rotation: a new first key seals; the old key still opens old rows.
	rotated, err := New(k2 + "," + k1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealed, "channel.access_token"); err != nil || got != "EAAG-token" {
		t.Fatalf("old row after rotation: %q %v", got, err)
	}
	if KeyID(rotated.Seal("x", "p")) != "k2" || KeyID(sealed) != "k1" || rotated.Active() != "k2" {
		t.Fatal("key ids")
	}
	onlyNew, _ := New(k2)
	if _, err := onlyNew.Open(sealed, "channel.access_token"); err != ErrUndecryptable {
		t.Fatal("opened without its key")
	}
	for _, junk := range [][]byte{nil, {}, {200}, {2, 'k', '1'}} {
		if _, err := old.Open(junk, "p"); err != ErrUndecryptable {
			t.Errorf("%v opened", junk)
		}
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"", "nokey", "k1:short", "k 1:" + strings.Repeat("A", 44), NewKey("a") + "," + NewKey("a")} {
		if _, err := New(spec); err == nil {
			t.Errorf("%q accepted", spec)
		}
	}
}

// A secret bound to its row does not open in another row (a ciphertext copied there); one sealed
// before rows were bound still opens in any row, until rotate-key binds it.
func TestSecretsAreBoundToTheirRow(t *testing.T) {
	t.Parallel()
	b, _ := New(NewKey("k1"))
	sealed := b.Seal("EAAG-a", ChannelToken("1001"))
	if got, err := b.Open(sealed, ChannelToken("1001")); err != nil || got != "EAAG-a" {
		t.Fatalf("own row: %q %v", got, err)
	}
	for _, other := range []string{ChannelToken("1002"), ChannelAppSecret("1001"), PurposeAccessToken} {
		if _, err := b.Open(sealed, other); err == nil {
			t.Errorf("opened as %q", other)
		}
	}
	legacy := b.Seal("EAAG-old", PurposeAccessToken)
	if got, err := b.Open(legacy, ChannelToken("1002")); err != nil || got != "EAAG-old" {
		t.Errorf("a secret sealed before binding: %q %v", got, err)
	}
	if _, err := b.OpenBound(legacy, ChannelToken("1002")); err == nil {
		t.Error("OpenBound took an unbound secret")
	}
}
