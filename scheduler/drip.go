package scheduler

// Job "drip" (every 500 ms): integration deliveries become events, events enrollments, due
// steps messages.

import (
	"context"
	"errors"

	"github.com/dripcast/dripcast/integrations"
)

// Drip turns integration deliveries into events, events into enrollments, and due steps into
// messages, then feeds them at once: a step is sent within a second or two of its time.
// One stage's failure does not hold up the others.
func (j *Jobs) Drip(ctx context.Context) error {
	_, deliveries := integrations.Process(ctx, j.pool)
	_, events := j.drips.ProcessEvents(ctx)
	written, steps := j.drips.Advance(ctx)
	var fed error
	if written > 0 {
		fed = j.Feed(ctx)
	}
	return errors.Join(deliveries, events, steps, fed)
}
