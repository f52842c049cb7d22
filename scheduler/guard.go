package scheduler

// Job "guard" (every 5 s): broadcasts past their account's failure or opt-out thresholds pause.

import (
	"context"

	"github.com/dripcast/dripcast/policy"
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
		if err := policy.PauseBroadcast(ctx, j.q, o.AccountID, o.ID, p); err != nil {
			return err
		}
		j.log.Warn("broadcast paused", "broadcast", o.ID, "reason", p.Reason)
	}
	return nil
}
