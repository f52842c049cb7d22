package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/testenv"
)

// Rows sealed under the old key, before secrets were bound to their rows, open with only the new
// key and only in their own row after `admin rotate-key`; a second run has nothing left to do; a
// secret no listed key opens stops the rotation.
func TestRotateKey(t *testing.T) {
	old, next := secrets.NewKey("k1"), secrets.NewKey("k2")
	oldBox, _ := secrets.New(old)
	dbURL := testenv.DatabaseURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name) SELECT id, 'p' FROM a RETURNING id, account_id)
		INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
		SELECT account_id, id, '1001', '2001', '+14155550199', $1, $2 FROM p`,
		oldBox.Seal("EAAG-token", secrets.PurposeAccessToken), oldBox.Seal("app-secret", secrets.PurposeAppSecret)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO integrations (account_id, name, kind, token, secret_enc)
		SELECT id, 'i', 'generic', 'tok', $1 FROM accounts`, oldBox.Seal("whsec_x", secrets.PurposeIntegration)); err != nil {
		t.Fatal(err)
	}
	var userID int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (account_id, email, role) SELECT id, 'ana@example.com', 'owner' FROM accounts RETURNING id`).Scan(&userID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE users SET totp_secret_enc = $1`, oldBox.Seal("JBSWY3DPEHPK3PXP", secrets.UserTOTP(userID))); err != nil {
		t.Fatal(err)
	}
	env := []string{"DRIPCAST_DATABASE_URL=" + dbURL, "DRIPCAST_SECRET_KEYS=" + next + "," + old}
	out, err := command(env, "admin", "rotate-key").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `key "k2": 1 channels, 1 integrations, 1 users' TOTP secrets`) {
		t.Fatalf("rotate: %v %s", err, out)
	}
	newOnly, _ := secrets.New(next)
	var token, appSecret, hook, totp []byte
	if err := pool.QueryRow(ctx, `SELECT c.access_token_enc, c.app_secret_enc, i.secret_enc, u.totp_secret_enc FROM channels c, integrations i, users u`).
		Scan(&token, &appSecret, &hook, &totp); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sealed         []byte
		purpose, plain string
	}{{token, secrets.ChannelToken("1001"), "EAAG-token"}, {appSecret, secrets.ChannelAppSecret("1001"), "app-secret"},
		{hook, secrets.IntegrationSecret("tok"), "whsec_x"}, {totp, secrets.UserTOTP(userID), "JBSWY3DPEHPK3PXP"}} {
		if got, err := newOnly.OpenBound(c.sealed, c.purpose); err != nil || got != c.plain {
			t.Errorf("%s after rotation: %q %v", c.purpose, got, err)
		}
	}
	if out, err := command(env, "admin", "rotate-key").CombinedOutput(); err != nil || !strings.Contains(string(out), "0 channels, 0 integrations, 0 users") {
		t.Errorf("second run: %v %s", err, out)
	}
	if _, err := pool.Exec(ctx, `UPDATE integrations SET secret_enc = $1`, oldBox.Seal("x", secrets.PurposeIntegration)); err != nil {
		t.Fatal(err)
	}
	env[1] = "DRIPCAST_SECRET_KEYS=" + next // the old key is gone: that row cannot be opened
	if out, err := command(env, "admin", "rotate-key").CombinedOutput(); err == nil || !strings.Contains(string(out), `sealed by key "k1"`) {
		t.Errorf("rotation without the old key: %v %s", err, out)
	}
}
