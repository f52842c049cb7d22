package worker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// RateLimited asks asynq to run the task again after RetryIn without counting a failure.
type RateLimited struct {
	RetryIn time.Duration
	Reason  string
}

func (e *RateLimited) Error() string {
	return fmt.Sprintf("rate limited (%s): retry in %s", e.Reason, e.RetryIn)
}

// isFailure tells asynq which errors count as failures: waiting for a limit is not one.
func isFailure(err error) bool {
	var rl *RateLimited
	return !errors.As(err, &rl)
}

// retryDelay waits what a limit asked for. Other errors (Meta's 5xx, a lost connection to
// Postgres) are transient: 1, 2, 4 … s after the n-th failure, up to about 4 minutes, with up to
// half again as jitter. Asynq's default waits 15–45 s before the first retry, which stalls a
// broadcast through a blip of a few seconds.
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var rl *RateLimited
	if errors.As(err, &rl) {
		return rl.RetryIn
	}
	d := time.Second << min(max(n, 0), 8)
	return d + rand.N(d/2)
}
