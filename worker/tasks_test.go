package worker

import (
	"errors"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	if d := retryDelay(3, &RateLimited{RetryIn: 40 * time.Millisecond}, nil); d != 40*time.Millisecond {
		t.Fatalf("a limit's wait: %s", d)
	}
	for n, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 4: 16 * time.Second, 20: 256 * time.Second} {
		if d := retryDelay(n, errors.New("meta: 500"), nil); d < want || d >= want*3/2 {
			t.Errorf("after failure %d: %s, want %s plus up to half", n, d, want)
		}
	}
}
