package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Scheduler runs jobs at fixed intervals while its Elector is leader. Every job has its own
// timer, so a slow job delays only itself, and runs one at a time: a tick that comes while the
// job still runs is dropped, not queued. A job added with AddEager also runs as soon as this
// replica becomes leader.
type Scheduler struct {
	elector *Elector
	log     *slog.Logger
	leader  prometheus.GaugeFunc
	jobs    []job
}

type job struct {
	interval time.Duration
	name     string
	run      func(ctx context.Context) error
	elected  chan struct{} // eager jobs: signalled when this replica becomes leader; else nil
}

// New makes a scheduler whose jobs run only on the leader.
func New(databaseURL string, log *slog.Logger, reg prometheus.Registerer) *Scheduler {
	s := &Scheduler{elector: NewElector(databaseURL, log, 2*time.Second), log: log}
	s.leader = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dripcast_scheduler_leader", Help: "1 while this process is the scheduler leader.",
	}, func() float64 {
		if s.elector.IsLeader() {
			return 1
		}
		return 0
	})
	reg.MustRegister(s.leader)
	return s
}

// Add registers a job that runs every interval on the leader. Add jobs before Run.
func (s *Scheduler) Add(interval time.Duration, name string, run func(ctx context.Context) error) {
	s.jobs = append(s.jobs, job{interval: interval, name: name, run: run})
}

// AddEager registers a job like Add that also runs at once when this replica becomes leader,
// not up to interval later.
func (s *Scheduler) AddEager(interval time.Duration, name string, run func(ctx context.Context) error) {
	s.jobs = append(s.jobs, job{interval: interval, name: name, run: run, elected: make(chan struct{}, 1)})
}

// Run elects and ticks until ctx ends, then waits for running jobs.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		wg.Go(func() { s.tick(ctx, j) })
	}
	s.elector.Run(ctx, func() {
		for _, j := range s.jobs {
			if j.elected != nil {
				select {
				case j.elected <- struct{}{}:
				default: // a run is already signalled
				}
			}
		}
	})
	wg.Wait()
}

// tick runs a job at each multiple of its interval on the wall clock (a one-second job at every
// whole second, as cron ran it): jobs run in step with each other and with the seconds the
// limits count in. Ticks missed while the job ran are skipped.
func (s *Scheduler) tick(ctx context.Context, j job) {
	t := time.NewTimer(untilNext(time.Now(), j.interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.elected: // nil, never ready, for a job that is not eager
		}
		if s.elector.IsLeader() {
			if err := s.runOnce(ctx, j); err != nil && ctx.Err() == nil {
				s.log.Error("scheduler job failed", "job", j.name, "err", err)
			}
		}
		t.Reset(untilNext(time.Now(), j.interval))
	}
}

// untilNext is the time from now to the next multiple of interval.
func untilNext(now time.Time, interval time.Duration) time.Duration {
	return now.Truncate(interval).Add(interval).Sub(now)
}

// runOnce runs a job, turning a panic into its error: one bad row must not stop the timer that
// all later work of the job depends on.
func (s *Scheduler) runOnce(ctx context.Context, j job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return j.run(ctx)
}
