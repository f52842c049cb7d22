// Package worker runs Dripcast's Asynq handler: the send of one message row.
package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/redisconn"
	"github.com/dripcast/dripcast/sendtask"
)

// Servers are the Asynq servers of one worker process. A server takes tasks off Redis one at a
// time (a round trip each), which caps it near 9,000 tasks/s on a 2-core machine whatever its
// concurrency; several servers take them in parallel, each on connections of its own.
type Servers struct {
	servers []*asynq.Server
	clients []*redis.Client
}

// Polling: an idle server looks for new tasks every 50–150 ms (Asynq's default, 0.5–1.5 s, would
// delay a drip step or a broadcast's first send by that much), and moves retries that fell due
// (a send held back for throughput waits a fraction of a second) every half second.
const (
	taskCheckInterval    = 100 * time.Millisecond
	delayedCheckInterval = 500 * time.Millisecond
)

// New builds count servers on redisURL (a server's URL or Sentinels', as redisconn reads it)
// sharing concurrency handlers between them, with a slog-backed logger.
func New(redisURL string, count, concurrency int, log *slog.Logger) (*Servers, error) {
	if count < 1 || concurrency < count {
		return nil, fmt.Errorf("%d servers for %d handlers: want at least one handler per server", count, concurrency)
	}
	s := &Servers{}
	for range count {
		rdb, err := redisconn.New(redisURL, nil)
		if err != nil {
			s.close()
			return nil, err
		}
		s.clients = append(s.clients, rdb)
		s.servers = append(s.servers, asynq.NewServerFromRedisClient(rdb, asynq.Config{
			Concurrency:              (concurrency + count - 1) / count,
			Queues:                   map[string]int{sendtask.Queue: 1},
			IsFailure:                isFailure,
			RetryDelayFunc:           retryDelay,
			TaskCheckInterval:        taskCheckInterval,
			DelayedTaskCheckInterval: delayedCheckInterval,
			Logger:                   asynqLogger{log},
			LogLevel:                 asynq.WarnLevel,
		}))
	}
	return s, nil
}

// Start starts every server with h.
func (s *Servers) Start(h asynq.Handler) error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Start(h))
	}
	return errors.Join(errs...)
}

// Shutdown stops every server at once, each waiting for its running handlers, then closes their
// connections (a server made on a client leaves them open).
func (s *Servers) Shutdown() {
	var wg sync.WaitGroup
	for _, srv := range s.servers {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
	s.close()
}

func (s *Servers) close() {
	for _, rdb := range s.clients {
		rdb.Close()
	}
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
