// Package sendtask is the Asynq task that sends one message row: its type, queue and payload, as
// the scheduler enqueues it and the worker reads it.
package sendtask

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Type is the task that sends one message row.
const Type = "message:send"

// Queue holds send tasks.
const Queue = "send"

// New is the task for a message. Its id is derived from the message id, so a message is in Redis
// at most once; the payload is the id alone (8 bytes).
func New(messageID int64) (*asynq.Task, []asynq.Option) {
	payload := binary.BigEndian.AppendUint64(nil, uint64(messageID))
	return asynq.NewTask(Type, payload), []asynq.Option{
		asynq.TaskID("send:" + strconv.FormatInt(messageID, 10)), asynq.Queue(Queue),
		asynq.MaxRetry(25), asynq.Timeout(time.Minute),
	}
}

// Retry is the task for a message whose earlier task may still be in Redis (a dead worker's,
// until Asynq's lease on it ends): a new id for each attempt. Two callers naming the same attempt
// conflict, and one task is enough.
func Retry(messageID int64, attempt int) (*asynq.Task, []asynq.Option) {
	task, opts := New(messageID)
	return task, append(opts, asynq.TaskID(fmt.Sprintf("send:%d:a%d", messageID, attempt)))
}

// FenceMargin is how far past its worker's latest recorded heartbeat a send's throughput slot
// may be for the worker to write it (worker.Heart); the scheduler takes a dead worker's listed
// send whose slot is later as never written.
const FenceMargin = 250 * time.Millisecond

// MessageID reads a send task's payload.
func MessageID(payload []byte) (int64, error) {
	if len(payload) != 8 {
		return 0, fmt.Errorf("send task: payload of %d bytes: %w", len(payload), asynq.SkipRetry)
	}
	return int64(binary.BigEndian.Uint64(payload)), nil
}

// Callback is what a send carries as biz_opaque_callback_data, for Meta to echo in its statuses:
// the message id, and after the first attempt its number ("123:2"), so that a status of an
// earlier attempt of a message its retry policy sent again is told from the current one's.
func Callback(messageID int64, attempt int) string {
	if attempt == 0 {
		return strconv.FormatInt(messageID, 10)
	}
	return fmt.Sprintf("%d:%d", messageID, attempt)
}

// ParseCallback reads a Callback; ok is false for anything else.
func ParseCallback(s string) (messageID int64, attempt int, ok bool) {
	id, n, found := strings.Cut(s, ":")
	messageID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || messageID <= 0 {
		return 0, 0, false
	}
	if found {
		if attempt, err = strconv.Atoi(n); err != nil || attempt <= 0 || attempt > 1000 {
			return 0, 0, false
		}
	}
	return messageID, attempt, true
}
