package scheduler

// Jobs "start" (every 250 ms) and "expand" (every second, and right after a start): due
// broadcasts begin, and their message rows are written.

import (
	"context"
	"errors"
	"time"

	"github.com/dripcast/dripcast/broadcast"
)

// Start moves scheduled broadcasts whose time has come to running, and expands and feeds them at
// once rather than at the next ticks of those jobs.
func (j *Jobs) Start(ctx context.Context) error {
	started, err := j.q.StartDueBroadcasts(ctx)
	for _, b := range started {
		j.log.Info("broadcast started", "broadcast", b.ID, "account", b.AccountID)
	}
	if err != nil || len(started) == 0 {
		return err
	}
	return errors.Join(j.Expand(ctx), j.Feed(ctx))
}

// Expand writes the message rows of running broadcasts not yet expanded.
func (j *Jobs) Expand(ctx context.Context) error {
	j.expanding.Lock()
	defer j.expanding.Unlock()
	list, err := j.q.UnexpandedBroadcasts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range list {
		start := time.Now()
		if err := broadcast.Expand(ctx, j.pool, b); err != nil {
			errs = append(errs, err)
			continue
		}
		j.log.Info("broadcast expanded", "broadcast", b.ID, "took", time.Since(start))
	}
	return errors.Join(errs...)
}
