package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dripcast/dripcast/db"
)

// Concurrent requests share statements, each gets its own answer, and an idle batcher ends its
// runners.
func TestBatcherGroupsConcurrentRequests(t *testing.T) {
	var calls, largest atomic.Int64
	release := make(chan struct{})
	b := New(1, 50, func(_ context.Context, in []int) ([]int, error) {
		if calls.Add(1) == 1 {
			<-release // hold the first batch so the others queue up behind it
		}
		largest.Store(max(largest.Load(), int64(len(in))))
		out := make([]int, len(in))
		for i, v := range in {
			out[i] = v * 2
		}
		return out, nil
	})
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Go(func() {
			if got, err := b.Do(i); err != nil || got != i*2 {
				t.Errorf("do(%d) = %d, %v", i, got, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n > 5 || largest.Load() != 50 {
		t.Fatalf("120 requests took %d statements, largest batch %d (want ≤ 5 and 50)", n, largest.Load())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active != 0 || len(b.queue) != 0 {
		t.Fatalf("idle batcher: %d runners, %d queued", b.active, len(b.queue))
	}
}

func TestBatcherErrorReachesEveryRequest(t *testing.T) {
	boom := errors.New("boom")
	b := New(2, 10, func(context.Context, []int) ([]int, error) { return nil, boom })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := b.Do(i); !errors.Is(err, boom) {
				t.Errorf("do(%d): %v", i, err)
			}
		})
	}
	wg.Wait()
}

// A statement that fails because of one row (a constraint) runs again row by row: only that
// row's caller gets the error; a batch failing for another reason fails whole.
func TestBatcherSetsOneBadRowApart(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	var largest atomic.Int64
	b := New(1, 50, func(_ context.Context, in []int) ([]int, error) {
		if calls.Add(1) == 1 {
			<-release
		}
		largest.Store(max(largest.Load(), int64(len(in))))
		if slices.Contains(in, 7) {
			return nil, &pgconn.PgError{Code: "23505", Message: "duplicate key"}
		}
		return in, nil
	})
	b.Split = db.RowError
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			got, err := b.Do(i)
			if i == 7 && !db.RowError(err) || i != 7 && (err != nil || got != i) {
				t.Errorf("do(%d) = %d, %v", i, got, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if largest.Load() < 2 {
		t.Fatal("no batch of more than one row: the test proves nothing")
	}
}

// A lingering batch runs as soon as LingerBelow requests have joined it, not when its time is up.
func TestBatcherRunsWhenFilled(t *testing.T) {
	var sizes []int
	b := New(1, 10, func(_ context.Context, in []int) ([]int, error) {
		sizes = append(sizes, len(in)) // one runner: no race
		return in, nil
	})
	b.LingerBelow, b.Linger = 4, time.Hour
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() { _, _ = b.Do(i) })
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("four requests still wait for an hour's linger")
	}
	if !slices.Equal(sizes, []int{4}) {
		t.Fatalf("batches %v, want one of 4", sizes)
	}
}
