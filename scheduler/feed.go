package scheduler

// Job "feed" (every second, and right after a start or a drip tick): each number's due
// messages go to the queue, only as many as its limits let go within the horizon.

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/sendtask"
)

// Feed queues, per channel, only as many due messages as its limits let go within the horizon.
func (j *Jobs) Feed(ctx context.Context) error {
	j.feeding.Lock()
	defer j.feeding.Unlock()
	if _, err := j.q.ExpirePending(ctx); err != nil {
		return err
	}
	if _, err := j.q.Rewindow(ctx); err != nil {
		return err
	}
	channels, err := j.q.FeedableChannels(ctx)
	if err != nil {
		return err
	}
	var errs []error
	var fed []paced
	for _, ch := range channels {
		ids, mps, err := j.feed(ctx, ch)
		if err != nil {
			errs = append(errs, err)
		}
		for i, id := range ids {
			fed = append(fed, paced{id: id, at: float64(i) / mps})
		}
	}
	return errors.Join(append(errs, j.enqueue(ctx, byPace(fed)))...)
}

// enqueuers is how many enqueues wait on Redis at once: as many script calls share a pipeline.
const enqueuers = 64

// paced is a fed message and when, in seconds from now, its channel's pace lets it go.
type paced struct {
	id int64
	at float64
}

// byPace orders the fed messages of every channel by when each can go. The queue is first in,
// first out: in channel order, every worker would wait on one number's pace at a time while the
// others idle; one by one in turn, a slow number's messages would hold workers waiting for its
// slots while a fast number starves.
func byPace(fed []paced) []int64 {
	slices.SortStableFunc(fed, func(a, b paced) int { return cmp.Compare(a.at, b.at) })
	ids := make([]int64, len(fed))
	for i, p := range fed {
		ids[i] = p.id
	}
	return ids
}

// feed marks, per channel, only as many due messages queued as its limits let go within the
// horizon, and returns them with the channel's rate.
func (j *Jobs) feed(ctx context.Context, ch queries.FeedableChannelsRow) ([]int64, float64, error) {
	// The budget ignores quality slow-downs (they apply to marketing only, in the worker): a few
	// seconds of over-feeding cost nothing.
	mps := ratelimit.EffectiveMPS(ch.ThroughputMps, 1, ch.RateCap)
	budget := int64(math.Ceil(mps * Horizon.Seconds()))
	label := metrics.Channel(ch.ID)
	j.metrics.Throughput.WithLabelValues(label).Set(mps)
	oldest, err := j.q.OldestDue(ctx, ch.ID)
	if err != nil {
		return nil, mps, err
	}
	j.metrics.FeederLag.WithLabelValues(label).Set(max(0, time.Since(oldest).Seconds()))
	inFlight := ch.InFlight
	if inFlight >= budget {
		return nil, mps, nil
	}
	// Drip steps first: they answer something a contact just did.
	ids, err := j.q.QueueDueSteps(ctx, queries.QueueDueStepsParams{ChannelID: ch.ID, Lim: int32(budget - inFlight)})
	if err != nil {
		return nil, mps, err
	}
	if left := budget - inFlight - int64(len(ids)); left > 0 {
		more, err := j.q.QueueDue(ctx, queries.QueueDueParams{ChannelID: ch.ID, Lim: int32(left)})
		if err != nil {
			return ids, mps, err
		}
		ids = append(ids, more...)
	}
	j.metrics.Queued.WithLabelValues(label).Add(float64(len(ids)))
	return ids, mps, nil
}

// enqueue puts a task per message in Redis, from enqueuers goroutines: asynq v0.26 has no batch
// enqueue, and the queue's client sends the script calls of concurrent enqueues in one pipeline
// (redispipe). A task that exists already is fine: its id is the message's.
func (j *Jobs) enqueue(ctx context.Context, ids []int64) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	next := make(chan int64)
	for range min(enqueuers, len(ids)) {
		wg.Go(func() {
			for id := range next {
				task, opts := sendtask.New(id)
				if _, err := j.queue.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		// The rows stay queued: Recover enqueues them again.
		return errors.Join(errs[0], errors.New("enqueue: more may have failed"))
	}
	return nil
}
