// Package worker runs Dripcast's Asynq handler: the send of one message row.
package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dripcast/dripcast/sendtask"
)

// Servers are the Asynq servers of one worker process. A server takes tasks off Redis one at a
// time (a round trip each), which caps it near 9,000 tasks/s on a 2-core machine whatever its
// concurrency; several servers take them in parallel.
type Servers []*asynq.Server

// Polling: an idle server looks for new tasks every 50–150 ms (Asynq's default, 0.5–1.5 s, would
// delay a drip step or a broadcast's first send by that much), and moves retries that fell due
// (a send held back for throughput waits a fraction of a second) every half second.
const (
	taskCheckInterval    = 100 * time.Millisecond
	delayedCheckInterval = 500 * time.Millisecond
)

// New builds count servers on redisURL sharing concurrency handlers between them, with a
// slog-backed logger.
func New(redisURL string, count, concurrency int, log *slog.Logger) (Servers, error) {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, fmt.Errorf("DRIPCAST_REDIS_URL: %w", err)
	}
	if count < 1 || concurrency < count {
		return nil, fmt.Errorf("%d servers for %d handlers: want at least one handler per server", count, concurrency)
	}
	servers := make(Servers, count)
	for i := range servers {
		servers[i] = asynq.NewServer(opt, asynq.Config{
			Concurrency:              (concurrency + count - 1) / count,
			Queues:                   map[string]int{sendtask.Queue: 1},
			IsFailure:                isFailure,
			RetryDelayFunc:           retryDelay,
			TaskCheckInterval:        taskCheckInterval,
			DelayedTaskCheckInterval: delayedCheckInterval,
			Logger:                   asynqLogger{log},
			LogLevel:                 asynq.WarnLevel,
		})
	}
	return servers, nil
}

// Start starts every server with h.
func (s Servers) Start(h asynq.Handler) error {
	var errs []error
	for _, srv := range s {
		errs = append(errs, srv.Start(h))
	}
	return errors.Join(errs...)
}

// Shutdown stops every server at once, each waiting for its running handlers.
func (s Servers) Shutdown() {
	var wg sync.WaitGroup
	for _, srv := range s {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
