package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/integrations"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/worker"
)

// Horizon is how much sending the feeder keeps in Redis per channel: Postgres holds the rest, so
// Redis memory does not grow with the audience, a pause takes effect at once, and losing Redis
// loses nothing.
const Horizon = 3 * time.Second

// Jobs is the periodic work of sending: start due broadcasts, expand them, feed the queue,
// recover lost work, complete what is done.
type Jobs struct {
	pool    *pgxpool.Pool
	rdb     redis.UniversalClient
	q       *queries.Queries
	queue   *asynq.Client
	tasks   *asynq.Inspector
	drips   *drip.Engine
	log     *slog.Logger
	metrics *metrics.Sending
	// Expand and Feed run from their own ticks and right after Start (Feed after Drip too): never
	// twice at once.
	expanding, feeding sync.Mutex

	// LostAfter: a message queued this long ago whose task is gone is enqueued again.
	LostAfter time.Duration
	recovered atomic.Bool // Recover has run in this process
	// SendingTimeout: a message this long in sending lost its worker; its outcome is unknown.
	SendingTimeout time.Duration
}

// NewJobs wires the jobs to Postgres and to the Asynq queues in rdb.
func NewJobs(pool *pgxpool.Pool, rdb redis.UniversalClient, drips *drip.Engine, log *slog.Logger, m *metrics.Sending) *Jobs {
	return &Jobs{pool: pool, rdb: rdb, q: queries.New(pool), queue: asynq.NewClientFromRedisClient(rdb), tasks: asynq.NewInspectorFromRedisClient(rdb),
		drips: drips, log: log, metrics: m,
		LostAfter: time.Minute, SendingTimeout: 5 * time.Minute}
}

// Register adds the jobs to a scheduler (they run on its leader only). Starting broadcasts and
// stepping drips tick several times a second: a broadcast's first send and a due drip step go
// out within a second or two of their time.
func (j *Jobs) Register(ctx context.Context, s *Scheduler) error {
	s.AddEvery(250*time.Millisecond, "start", j.Start)
	s.AddEvery(500*time.Millisecond, "drip", j.Drip)
	for _, job := range []struct {
		spec, name string
		fn         func(context.Context) error
	}{
		{"* * * * * *", "expand", j.Expand},
		{"* * * * * *", "feed", j.Feed},
		{"*/10 * * * * *", "recover", j.Recover},
		{"*/2 * * * * *", "complete", j.Complete},
		{"*/5 * * * * *", "guard", j.Guard},
	} {
		if err := s.Add(ctx, job.spec, job.name, job.fn); err != nil {
			return err
		}
	}
	return nil
}

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

// enqueue puts a task per message in Redis, from several goroutines (asynq v0.26 has no batch
// enqueue). A task that exists already is fine: its id is the message's.
func (j *Jobs) enqueue(ctx context.Context, ids []int64) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	next := make(chan int64)
	for range min(16, len(ids)) {
		wg.Go(func() {
			for id := range next {
				task, opts := worker.NewSendTask(id)
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

// redisMark is a key Recover keeps in Redis: when it is gone, Redis lost its data (wiped, or
// restarted without persistence), and every task with it.
const redisMark = "dripcast:redis-mark"

// Recover re-enqueues messages queued long ago whose task was lost, and marks messages stuck in
// sending (a worker died mid-send) unknown: never sent again blindly.
//
// It looks at every queued message, however recent, on its first run in a process and when Redis
// lost its data: the first run is on a new leader, and a leader killed between marking messages
// queued and enqueueing them would otherwise hold them up for LostAfter; after a loss every task
// is gone. Enqueueing is idempotent (the task id is the message's), and the claim guards the rest.
func (j *Jobs) Recover(ctx context.Context) error {
	marked, err := j.rdb.Exists(ctx, redisMark).Result()
	if err != nil {
		return err
	}
	lostAfter := j.LostAfter
	if !j.recovered.Swap(true) || marked == 0 {
		lostAfter = 0
	}
	stuck, err := j.q.StuckQueued(ctx, int32(lostAfter.Seconds()))
	if err != nil {
		return err
	}
	if err := j.enqueue(ctx, stuck); err != nil {
		return err
	}
	if marked == 0 {
		if err := j.rdb.Set(ctx, redisMark, time.Now().Unix(), 0).Err(); err != nil {
			return err
		}
		if len(stuck) > 0 {
			j.log.Warn("Redis had lost its data (or this is its first use): queued messages enqueued again", "count", len(stuck))
		}
	}
	if err := j.requeueOrphans(ctx); err != nil {
		return err
	}
	n, err := j.q.MarkStuckSendingUnknown(ctx, int32(j.SendingTimeout.Seconds()))
	if n > 0 {
		j.log.Warn("messages stuck in sending marked unknown", "count", n)
	}
	return err
}

// requeueOrphans gives a new task to each message whose task a dead worker left active: Asynq
// itself retries such a task only minutes later (its lease lasts 30 s, then its recoverer looks
// once a minute and backs off). The old task, if Asynq runs it after all, finds its message no
// longer queued and does nothing.
func (j *Jobs) requeueOrphans(ctx context.Context) error {
	active, err := j.tasks.ListActiveTasks(worker.QueueSend, asynq.PageSize(10000))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil // nothing was ever enqueued
	}
	if err != nil {
		return fmt.Errorf("list active tasks: %w", err)
	}
	var errs []error
	for _, t := range active {
		if !t.IsOrphaned {
			continue
		}
		id, err := worker.MessageID(t.Payload)
		if err != nil {
			continue
		}
		task, opts := worker.NewSendTask(id)
		opts = append(opts, asynq.TaskID(fmt.Sprintf("send:%d:%d", id, t.Retried+1)))
		if _, err := j.queue.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Complete marks broadcasts done when no message of theirs waits or is on its way.
func (j *Jobs) Complete(ctx context.Context) error {
	done, err := j.q.CompleteBroadcasts(ctx)
	for _, id := range done {
		j.log.Info("broadcast completed", "broadcast", id)
	}
	return err
}

// Guard pauses running broadcasts whose failures or opt-outs pass their account's thresholds.
// It counts every message of running broadcasts, so it runs less often than the others.
func (j *Jobs) Guard(ctx context.Context) error {
	outcomes, err := j.q.RunningBroadcastOutcomes(ctx)
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		settings, err := broadcast.ParseSettings(o.Settings)
		if err != nil {
			continue
		}
		p, pause := settings.ShouldPause(o.Failed, o.OptedOut, o.Attempted)
		if !pause {
			continue
		}
		if _, err := j.q.SetBroadcastStatus(ctx, queries.SetBroadcastStatusParams{Status: "paused", Reason: p.Reason, PauseCause: p.CauseText(),
			AccountID: o.AccountID, ID: o.ID, FromStatuses: []string{"running"}}); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		j.log.Warn("broadcast paused", "broadcast", o.ID, "reason", p.Reason)
	}
	return nil
}
