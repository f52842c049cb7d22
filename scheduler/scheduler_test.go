package scheduler

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/metrics"
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
	go func() { a.Run(ctxA); close(doneA) }()
	testenv.Eventually(t, "a leads", 5*time.Second, a.IsLeader)
	go b.Run(ctxB)
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
	time.Sleep(time.Second)
	if n := ranA.Load() + ranB.Load() - first; n < 10 {
		t.Fatalf("ran %d times in a second at 50 ms", n)
	}
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
