package sendtask

import (
	"errors"
	"testing"

	"github.com/hibiken/asynq"
)

func TestRoundTrip(t *testing.T) {
	task, opts := New(1234567890123)
	if task.Type() != Type || len(task.Payload()) != 8 || len(opts) == 0 {
		t.Fatalf("task %s, payload %d bytes", task.Type(), len(task.Payload()))
	}
	if id, err := MessageID(task.Payload()); err != nil || id != 1234567890123 {
		t.Fatalf("%d %v", id, err)
	}
	if _, err := MessageID([]byte("{}")); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a malformed payload is retried: %v", err)
	}
}
