package scheduler

// Job "guard" (every 5 s): broadcasts past their account's failure or opt-out thresholds pause.

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// Guard pauses running broadcasts whose failures or opt-outs pass their account's thresholds.
// It counts every message of running broadcasts, so it runs less often than the others.
func (j *Jobs) Guard(ctx context.Context) error {
	outcomes, err := j.q.RunningBroadcastOutcomes(ctx)
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		settings, err := policy.ParseSettings(o.Settings)
		if err != nil {
			continue
		}
		p, pause := settings.ShouldPause(o.Failed, o.OptedOut, o.Attempted)
		if !pause {
			continue
		}
		if _, err := j.q.SetBroadcastStatus(ctx, queries.SetBroadcastStatusParams{Status: queries.BroadcastStatusPaused, Reason: p.Reason, PauseCause: p.Cause.Column(),
			AccountID: o.AccountID, ID: o.ID, FromStatuses: []queries.BroadcastStatus{queries.BroadcastStatusRunning}}); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		j.log.Warn("broadcast paused", "broadcast", o.ID, "reason", p.Reason)
	}
	return nil
}
