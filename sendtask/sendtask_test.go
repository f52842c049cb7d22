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

func TestCallbackRoundTrips(t *testing.T) {
	for _, c := range []struct {
		id      int64
		attempt int
		want    string
	}{{42, 0, "42"}, {42, 2, "42:2"}} {
		got := Callback(c.id, c.attempt)
		id, attempt, ok := ParseCallback(got)
		if got != c.want || !ok || id != c.id || attempt != c.attempt {
			t.Errorf("Callback(%d, %d) = %q, read back as %d, %d, %t", c.id, c.attempt, got, id, attempt, ok)
		}
	}
	for _, bad := range []string{"", "x", "0", "-3", "42:", "42:0", "42:x", "42:1:2", "wamid.A"} {
		if _, _, ok := ParseCallback(bad); ok {
			t.Errorf("%q read as a callback", bad)
		}
	}
}
