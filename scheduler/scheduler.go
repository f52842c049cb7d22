package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
)

// Scheduler runs cron jobs while its Elector is leader.
type Scheduler struct {
	elector *Elector
	cron    *cron.Cron
	log     *slog.Logger
	leader  prometheus.GaugeFunc
	every   []ticked
}

// New makes a scheduler whose jobs run only on the leader. Specs take seconds ("*/2 * * * * *").
func New(databaseURL string, log *slog.Logger, reg prometheus.Registerer) *Scheduler {
	s := &Scheduler{elector: NewElector(databaseURL, log, 2*time.Second), log: log}
	l := cronLogger{log}
	s.cron = cron.New(cron.WithSeconds(), cron.WithLocation(time.UTC),
		cron.WithChain(cron.Recover(l), cron.SkipIfStillRunning(l)), cron.WithLogger(l))
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

// Add registers a job by name; it runs on the leader only, never twice at once.
func (s *Scheduler) Add(ctx context.Context, spec, name string, job func(ctx context.Context) error) error {
	_, err := s.cron.AddFunc(spec, func() {
		if !s.elector.IsLeader() {
			return
		}
		if err := job(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler job failed", "job", name, "err", err)
		}
	})
	return err
}

// AddEvery registers a job that runs every interval on the leader, never twice at once: for work
// whose delay users see (a broadcast's first send, a drip step), which cron's one-second ticks
// would hold up to a second.
func (s *Scheduler) AddEvery(interval time.Duration, name string, job func(ctx context.Context) error) {
	s.every = append(s.every, ticked{interval, name, job})
}

type ticked struct {
	interval time.Duration
	name     string
	job      func(ctx context.Context) error
}

// Run elects and ticks until ctx ends, then waits for running jobs.
func (s *Scheduler) Run(ctx context.Context) {
	s.cron.Start()
	var wg sync.WaitGroup
	for _, e := range s.every {
		wg.Go(func() { s.tick(ctx, e) })
	}
	s.elector.Run(ctx)
	<-s.cron.Stop().Done()
	wg.Wait()
}

func (s *Scheduler) tick(ctx context.Context, e ticked) {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.elector.IsLeader() {
			continue
		}
		if err := e.job(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler job failed", "job", e.name, "err", err)
		}
	}
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
