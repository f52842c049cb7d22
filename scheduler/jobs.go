package scheduler

import (
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/people"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/redispipe"
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
	// sweepUntil: until then, Recover enqueues every queued message, however recent (set on its
	// first run in a process, zero before it, and when Redis lost its data). markSeen: Recover
	// saw or set its mark in Redis, so a missing mark is a loss, not Redis's first use. Only
	// Recover uses them, one run at a time.
	sweepUntil time.Time
	markSeen   bool
	// SendingTimeout: a message this long in sending lost its worker; its outcome is unknown.
	// (A worker that stops beating is found sooner: WorkerDeadAfter.)
	SendingTimeout time.Duration
	// WorkerDeadAfter: a worker not heard from this long is fenced (Settle).
	WorkerDeadAfter time.Duration
	// UnknownGrace: an unknown send this old may be concluded not sent (Settle), which looks at
	// most every graceEvery (graceLooked: when it last did; only Settle uses it).
	UnknownGrace time.Duration
	graceLooked  time.Time
	// Clock times the waits between a broadcast's retries (scaled in demos and tests).
	Clock clock.Clock
	// RetrySettle: the retry job decides on a failure this long after it (Meta may still report
	// the message delivered, from another of the user's devices).
	RetrySettle time.Duration
}

// NewJobs wires the jobs to Postgres and to the Asynq queues in rdb.
func NewJobs(pool *pgxpool.Pool, rdb redis.UniversalClient, drips *drip.Engine, log *slog.Logger, m *metrics.Sending) *Jobs {
	return &Jobs{pool: pool, rdb: rdb, q: queries.New(pool), queue: asynq.NewClientFromRedisClient(redispipe.New(rdb)), tasks: asynq.NewInspectorFromRedisClient(rdb),
		drips: drips, log: log, metrics: m,
		LostAfter: time.Minute, SendingTimeout: 5 * time.Minute, WorkerDeadAfter: 5 * time.Second, UnknownGrace: 15 * time.Minute,
		Clock: clock.Real{}, RetrySettle: 30 * time.Second}
}

// Register adds the jobs to a scheduler (they run on its leader only). Starting broadcasts and
// stepping drips tick several times a second: a broadcast's first send and a due drip step go
// out within a second or two of their time.
func (j *Jobs) Register(s *Scheduler) {
	s.Add(250*time.Millisecond, "start", j.Start)
	s.Add(500*time.Millisecond, "drip", j.Drip)
	s.Add(time.Second, "expand", j.Expand)
	s.Add(time.Second, "feed", j.Feed)
	s.Add(2*time.Second, "complete", j.Complete)
	s.Add(time.Second, "settle", j.Settle)
	s.Add(5*time.Second, "guard", j.Guard)
	s.Add(2*time.Second, "retry", j.Retry)
	s.AddEager(10*time.Second, "recover", j.Recover)                 // at election too: see Recover
	s.Add(10*time.Minute, "sessions", people.New(j.pool, nil).Sweep) // expired console sessions, old sign-in throttles
	s.Add(time.Hour, "retention", j.Retention)
}
