package scheduler

// Jobs "templates" (every 15 min): each account's templates follow its WABAs' lists; and
// "templates-wanted" (every 30 s): the WABAs whose webhook named a template not synced yet.

import (
	"context"
	"errors"
	"fmt"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/templates"
)

// SyncTemplates syncs the templates of every WABA of every account (templates.SyncChannel), or
// with wantedOnly those a webhook asked for, as the scheduler; one WABA's failure (a revoked
// token) does not stop the others.
func (j *Jobs) SyncTemplates(ctx context.Context, r Refresher, wantedOnly bool) error {
	rows, err := j.q.ChannelsToSyncTemplates(ctx, wantedOnly)
	if err != nil {
		return err
	}
	var errs []error
	for _, ch := range rows {
		res, err := templates.SyncChannel(ctx, j.pool, audit.Actor{AccountID: ch.AccountID, Name: "scheduler"}, r.Meta, r.Secrets, ch.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("channel %d: %w", ch.ID, err))
			continue
		}
		if res.Created+res.Updated+res.DeletedOnMeta > 0 {
			j.log.Info("templates synced", "channel", ch.ID, "created", res.Created, "updated", res.Updated, "deleted_on_meta", res.DeletedOnMeta)
		}
	}
	return errors.Join(errs...)
}
