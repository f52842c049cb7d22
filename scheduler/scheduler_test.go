package scheduler

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Two replicas: exactly one leads; when it stops, the other takes over within seconds.
func TestOneLeaderAndTakeover(t *testing.T) {
	url := testenv.DatabaseURL(t)
	a := NewElector(url, quiet, 200*time.Millisecond)
	b := NewElector(url, quiet, 200*time.Millisecond)
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA := make(chan struct{})
	var electedA, electedB atomic.Int32
	go func() { a.Run(ctxA, func() { electedA.Add(1) }); close(doneA) }()
	testenv.Eventually(t, "a leads", 5*time.Second, a.IsLeader)
	go b.Run(ctxB, func() { electedB.Add(1) })
	for range 10 {
		time.Sleep(50 * time.Millisecond)
		if a.IsLeader() == b.IsLeader() {
			t.Fatalf("a leads: %v, b leads: %v", a.IsLeader(), b.IsLeader())
		}
	}
	stopA()
	<-doneA
	start := time.Now()
	testenv.Eventually(t, "b takes over", 5*time.Second, b.IsLeader)
	t.Logf("takeover in %s", time.Since(start))
	if electedA.Load() != 1 || electedB.Load() != 1 {
		t.Fatalf("elected: a %d times, b %d times; want once each", electedA.Load(), electedB.Load())
	}
}

// twoReplicas runs two schedulers on one database, each with a job that counts its runs, added
// by add; it answers the two counts.
func twoReplicas(t *testing.T, add func(*Scheduler, func(context.Context) error)) (a, b *atomic.Int32) {
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, b = new(atomic.Int32), new(atomic.Int32)
	for _, n := range []*atomic.Int32{a, b} {
		s := New(url, quiet, prometheus.NewRegistry())
		add(s, func(context.Context) error { n.Add(1); return nil })
		go s.Run(ctx)
	}
	return a, b
}

// A job ticks at its interval, on the leader only.
func TestJobsRunOnTheLeaderOnly(t *testing.T) {
	ranA, ranB := twoReplicas(t, func(s *Scheduler, job func(context.Context) error) {
		s.Add(50*time.Millisecond, "count", job)
	})
	testenv.Eventually(t, "the fast job ran", 10*time.Second, func() bool { return ranA.Load()+ranB.Load() >= 1 })
	first := ranA.Load() + ranB.Load()
	// 20 runs a second; on a loaded machine fewer, so only a stopped ticker fails this.
	testenv.Eventually(t, "ten more runs at 50 ms", 10*time.Second, func() bool { return ranA.Load()+ranB.Load()-first >= 10 })
	if ranA.Load() > 0 && ranB.Load() > 0 {
		t.Fatalf("both replicas ran the job: %d and %d times", ranA.Load(), ranB.Load())
	}
}

// Recovery on a Redis where nothing was ever enqueued finds nothing to do, without an error.
func TestRecoverBeforeAnyTask(t *testing.T) {
	jobs := NewJobs(testenv.DB(t), testenv.Redis(t), nil, quiet, metrics.New(prometheus.NewRegistry()))
	for range 2 { // the first run of a process looks at every queued message, the next ones not
		if err := jobs.Recover(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// A job that panics keeps its ticker: the next tick runs it again.
func TestPanickingJobRunsAgain(t *testing.T) {
	ranA, ranB := twoReplicas(t, func(s *Scheduler, job func(context.Context) error) {
		s.Add(50*time.Millisecond, "panics", func(ctx context.Context) error {
			_ = job(ctx)
			panic("a bad row")
		})
	})
	testenv.Eventually(t, "the job ran after panicking", 10*time.Second, func() bool { return ranA.Load()+ranB.Load() >= 3 })
}

// A job's ticks fall on multiples of its interval, as cron's did.
func TestUntilNextIsAMultipleOfTheInterval(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 10, 0, 7, 300_000_000, time.UTC)
	for interval, want := range map[time.Duration]time.Duration{time.Second: 700 * time.Millisecond,
		10 * time.Second: 2700 * time.Millisecond, 250 * time.Millisecond: 200 * time.Millisecond} {
		if got := untilNext(now, interval); got != want {
			t.Errorf("every %s from %s: next in %s, want %s", interval, now.Format("15:04:05.000"), got, want)
		}
	}
}

// An eager job runs as soon as its replica leads, not an interval later; on the leader only.
func TestEagerJobRunsOnElection(t *testing.T) {
	ranA, ranB := twoReplicas(t, func(s *Scheduler, job func(context.Context) error) {
		s.AddEager(time.Hour, "count", job)
	})
	testenv.Eventually(t, "the eager job ran", 10*time.Second, func() bool { return ranA.Load()+ranB.Load() >= 1 })
	time.Sleep(500 * time.Millisecond)
	if n := ranA.Load() + ranB.Load(); n != 1 {
		t.Fatalf("the eager job ran %d times (%d and %d), want once", n, ranA.Load(), ranB.Load())
	}
}

// After Redis lost its data, a message handed back to the queue later (the retry of its task
// failed: Asynq no longer knew the task) is enqueued on the next run, not LostAfter later; without
// a loss, a message queued just now is left to the task being enqueued for it.
func TestRecoverSweepsForAWhileAfterALoss(t *testing.T) {
	pool, rdb := testenv.DB(t), testenv.Redis(t)
	ctx := context.Background()
	jobs := NewJobs(pool, rdb, nil, quiet, metrics.New(prometheus.NewRegistry()))
	recoverAndCheck := func(id int64, wantTask bool) { t.Helper(); checkRecover(t, jobs, id, wantTask) }
	recoverAndCheck(0, false) // the first run of a new leader
	for range 2 {
		recoverAndCheck(queuedMessage(t, pool), false)
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	recoverAndCheck(0, false) // sees the loss
	for range 2 {
		recoverAndCheck(queuedMessage(t, pool), true)
	}

	// A new leader that finds no mark cannot tell a loss from Redis's first use: it sweeps once,
	// as every new leader does, and not for a while (each sweep enqueues every queued message).
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	jobs = NewJobs(pool, rdb, nil, quiet, metrics.New(prometheus.NewRegistry()))
	recoverAndCheck(queuedMessage(t, pool), true)
	recoverAndCheck(queuedMessage(t, pool), false)
}

// Another Redis took over (a replica that Sentinel promoted: the mark holds another server's
// replication id) and may lack the lost primary's last tasks: Recover sweeps for a while, as
// after a loss.
func TestRecoverSweepsAfterAFailover(t *testing.T) {
	pool, rdb := testenv.DB(t), testenv.Redis(t)
	jobs := NewJobs(pool, rdb, nil, quiet, metrics.New(prometheus.NewRegistry()))
	checkRecover(t, jobs, 0, false) // the first run of a new leader
	checkRecover(t, jobs, queuedMessage(t, pool), false)
	if err := rdb.Set(context.Background(), redisMark, "the lost primary's id", 0).Err(); err != nil {
		t.Fatal(err)
	}
	checkRecover(t, jobs, 0, false) // sees the takeover
	for range 2 {
		checkRecover(t, jobs, queuedMessage(t, pool), true)
	}
}

// checkRecover runs Recover and checks whether message id has a task after it.
func checkRecover(t *testing.T, jobs *Jobs, id int64, wantTask bool) {
	t.Helper()
	if err := jobs.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := jobs.tasks.GetTaskInfo(sendtask.Queue, "send:"+strconv.FormatInt(id, 10))
	if hasTask := err == nil; hasTask != wantTask {
		t.Fatalf("message %d has a task: %v, want %v (%v)", id, hasTask, wantTask, err)
	}
}

// queuedMessage inserts a message queued now (with its account, number, template, broadcast and
// contact), and no task.
func queuedMessage(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `
		WITH c AS (INSERT INTO contacts (account_id, phone) SELECT account_id, '+14155550100' FROM broadcasts WHERE id = $1 RETURNING id)
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, queued_at)
		SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id, 'queued', now(), now() FROM broadcasts b, c WHERE b.id = $1
		RETURNING id`, runningBroadcast(t, pool)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// runningBroadcast inserts a running broadcast with its own account, number and template.
func runningBroadcast(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `
		WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name) SELECT id, 'p' FROM a RETURNING id, account_id),
		ch AS (INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc, throughput_mps)
		       SELECT account_id, id, gen_random_uuid()::text, '2001', '+14155550199', '\x00', '\x00', 80 FROM p RETURNING id, account_id),
		t AS (INSERT INTO templates (account_id, name, language, category, components)
		      SELECT account_id, 'promo', 'en', 'marketing', '{}' FROM ch RETURNING id)
		INSERT INTO broadcasts (account_id, channel_id, template_id, name, status, audience)
		SELECT ch.account_id, ch.id, t.id, 'b', 'running', '{}' FROM ch, t RETURNING id`).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
