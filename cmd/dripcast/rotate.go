package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/dripcast/dripcast/config"
	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
)

// rotateKey re-encrypts every secret at rest that another key sealed, or that is not yet bound to
// its row, under the first key of DRIPCAST_SECRET_KEYS. Run it after putting a new key first (and
// once after upgrading to row-bound secrets); once it reports nothing left under an old key, that
// key can leave the list. A secret no listed key opens stops it with an error.
func rotateKey(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	box, err := secrets.New(cfg.SecretKeys)
	if err != nil {
		return fmt.Errorf("DRIPCAST_SECRET_KEYS: %w", err)
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	q := queries.New(pool)
	reseal := func(sealed []byte, purpose string) ([]byte, bool, error) {
		if secrets.KeyID(sealed) == box.Active() {
			if _, err := box.OpenBound(sealed, purpose); err == nil {
				return sealed, false, nil
			}
		}
		plain, err := box.Open(sealed, purpose)
		if err != nil {
			return nil, false, fmt.Errorf("a %s sealed by key %q: %w", strings.ReplaceAll(purpose, "\x00", " of "), secrets.KeyID(sealed), err)
		}
		return box.Seal(plain, purpose), true, nil
	}
	channels, err := q.SealedChannelSecrets(ctx)
	if err != nil {
		return err
	}
	var nChannels, nIntegrations int64
	for _, ch := range channels {
		token, t, err := reseal(ch.AccessTokenEnc, secrets.ChannelToken(ch.PhoneNumberID))
		if err != nil {
			return fmt.Errorf("channel %d: %w", ch.ID, err)
		}
		secret, s, err := reseal(ch.AppSecretEnc, secrets.ChannelAppSecret(ch.PhoneNumberID))
		if err != nil {
			return fmt.Errorf("channel %d: %w", ch.ID, err)
		}
		if !t && !s {
			continue
		}
		n, err := q.ResealChannel(ctx, queries.ResealChannelParams{ID: ch.ID, AccessTokenEnc: token, AppSecretEnc: secret,
			OldAccessTokenEnc: ch.AccessTokenEnc, OldAppSecretEnc: ch.AppSecretEnc})
		if err != nil {
			return err
		}
		nChannels += n
	}
	integrations, err := q.SealedIntegrationSecrets(ctx)
	if err != nil {
		return err
	}
	for _, in := range integrations {
		secret, changed, err := reseal(in.SecretEnc, secrets.IntegrationSecret(in.Token))
		if err != nil {
			return fmt.Errorf("integration %d: %w", in.ID, err)
		}
		if !changed {
			continue
		}
		n, err := q.ResealIntegration(ctx, queries.ResealIntegrationParams{ID: in.ID, SecretEnc: secret, OldSecretEnc: in.SecretEnc})
		if err != nil {
			return err
		}
		nIntegrations += n
	}
	users, err := q.SealedTOTPSecrets(ctx)
	if err != nil {
		return err
	}
	var nUsers int64
	for _, u := range users {
		secret, changed, err := reseal(u.TotpSecretEnc, secrets.UserTOTP(u.ID))
		if err != nil {
			return fmt.Errorf("user %d: %w", u.ID, err)
		}
		if !changed {
			continue
		}
		n, err := q.ResealTOTP(ctx, queries.ResealTOTPParams{ID: u.ID, TotpSecretEnc: secret, OldTotpSecretEnc: u.TotpSecretEnc})
		if err != nil {
			return err
		}
		nUsers += n
	}
	fmt.Fprintf(stdout, "re-encrypted under key %q: %d channels, %d integrations, %d users' TOTP secrets\n", box.Active(), nChannels, nIntegrations, nUsers)
	return nil
}
