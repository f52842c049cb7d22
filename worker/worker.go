// Package worker runs Dripcast's Asynq handlers: today the send handler.
package worker

import (
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
)

// New builds an Asynq server on redisURL with a slog-backed logger.
func New(redisURL string, concurrency int, log *slog.Logger) (*asynq.Server, *asynq.ServeMux, error) {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("DRIPCAST_REDIS_URL: %w", err)
	}
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency:    concurrency,
		Queues:         map[string]int{QueueSend: 1},
		IsFailure:      isFailure,
		RetryDelayFunc: retryDelay,
		Logger:         asynqLogger{log},
		LogLevel:       asynq.WarnLevel,
	})
	return srv, asynq.NewServeMux(), nil
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
