package worker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// TypeSend is the task that sends one message row.
const TypeSend = "message:send"

// QueueSend holds send tasks.
const QueueSend = "send"

// NewSendTask is the task for a message. Its id is derived from the message id, so a message is
// in Redis at most once; the payload is the id alone (8 bytes).
func NewSendTask(messageID int64) (*asynq.Task, []asynq.Option) {
	payload := binary.BigEndian.AppendUint64(nil, uint64(messageID))
	return asynq.NewTask(TypeSend, payload), []asynq.Option{
		asynq.TaskID("send:" + strconv.FormatInt(messageID, 10)), asynq.Queue(QueueSend),
		asynq.MaxRetry(25), asynq.Timeout(time.Minute),
	}
}

// MessageID reads a send task's payload.
func MessageID(payload []byte) (int64, error) {
	if len(payload) != 8 {
		return 0, fmt.Errorf("send task: payload of %d bytes: %w", len(payload), asynq.SkipRetry)
	}
	return int64(binary.BigEndian.Uint64(payload)), nil
}

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
