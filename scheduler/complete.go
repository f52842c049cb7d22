package scheduler

// Job "complete" (every 2 s): finished broadcasts are marked done.

import "context"

// Complete marks broadcasts done when no message of theirs waits or is on its way.
func (j *Jobs) Complete(ctx context.Context) error {
	done, err := j.q.CompleteBroadcasts(ctx)
	for _, id := range done {
		j.log.Info("broadcast completed", "broadcast", id)
	}
	return err
}
