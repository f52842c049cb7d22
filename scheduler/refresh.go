package scheduler

import (
	"context"
	"errors"
	"fmt"

	"github.com/dripcast/dripcast/channels"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/whatsapp"
)

// Refresher reads each number's quality rating, throughput and messaging limit from Meta, beside
// the webhooks that report changes, so a missed webhook does not leave a wrong limit in force.
type Refresher struct {
	Meta    *whatsapp.Client
	Secrets *secrets.Box
}

// Refresh updates every channel from GET /{phone-number-id}. A number Meta says is on the high
// throughput level may send 1,000 messages a second, on the standard level 80; never more than
// the cap its owner set (a number shared with the WhatsApp Business app sends 20).
func (j *Jobs) Refresh(ctx context.Context, r Refresher) error {
	rows, err := j.q.ChannelsToRefresh(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ch := range rows {
		token, err := r.Secrets.Open(ch.AccessTokenEnc, secrets.ChannelToken(ch.PhoneNumberID))
		if err != nil {
			errs = append(errs, fmt.Errorf("channel %d: %w", ch.ID, err))
			continue
		}
		info, err := r.Meta.GetPhoneNumber(ctx, token, ch.PhoneNumberID)
		if err != nil {
			errs = append(errs, fmt.Errorf("channel %d: %w", ch.ID, err))
			continue
		}
		quality := info.QualityRating
		if quality == "" {
			quality = "UNKNOWN"
		}
		var level *int32 // none named: the level stays
		if mps := channels.MetaMPS(info.Throughput.Level, 0); mps > 0 {
			level = &mps
		}
		if err := j.q.RefreshChannel(ctx, queries.RefreshChannelParams{ID: ch.ID, QualityRating: quality, MetaMps: level}); err != nil {
			return err
		}
		if quality == "RED" {
			if err := policy.PauseMarketingOnRed(ctx, j.q, ch.ID); err != nil {
				return err
			}
		}
		if tier, ok := policy.TierLimit(info.MessagingLimit); ok {
			if err := j.q.SetPortfolioTier(ctx, queries.SetPortfolioTierParams{ID: ch.PortfolioID, TierLimit: tier}); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}
