// Package batch runs one call for the requests of many concurrent callers: one statement for the
// claims of every send handler waiting, one Redis pipeline for their limit checks.
package batch

import (
	"context"
	"sync"
	"time"
)

// batchTimeout bounds one batch's statement: the handlers waiting on it have their own deadlines,
// but a batch serves many of them, so it does not take any one's.
const batchTimeout = 30 * time.Second

// A Batcher runs one call for the requests of many concurrent callers. A runner takes what has
// queued up (at most max requests) and runs it at once; requests that arrive meanwhile form the
// next batch. Under light load a batch is a single request that waits for nothing; under heavy
// load batches grow and the database (or Redis) does a fraction of the calls. Runners start on
// demand and end when the queue is empty, so an idle batcher holds no goroutine.
type Batcher[In, Out any] struct {
	run     func(ctx context.Context, in []In) ([]Out, error) // one output per input, in order
	max     int
	runners int
	// A batch of fewer than LingerBelow requests waits until its oldest is Linger old, for more
	// to join it (0: never waits).
	LingerBelow int
	Linger      time.Duration
	// Split, when set, tells an error one request caused (a row Postgres refuses): the batch then
	// runs again one request at a time, so only that request's caller gets the error.
	Split func(error) bool

	mu     sync.Mutex
	queue  []*batchCall[In, Out]
	active int
	filled chan struct{} // a lingering runner's wake-up: the queue reached LingerBelow
}

type batchCall[In, Out any] struct {
	in   In
	out  Out
	err  error
	at   time.Time // queued
	done chan struct{}
}

// New makes a batcher of at most runners concurrent calls of run, each for at most max requests.
func New[In, Out any](runners, max int, run func(context.Context, []In) ([]Out, error)) *Batcher[In, Out] {
	return &Batcher[In, Out]{run: run, max: max, runners: runners, filled: make(chan struct{}, 1)}
}

// Do queues in and waits for its batch to run.
func (b *Batcher[In, Out]) Do(in In) (Out, error) {
	c := &batchCall[In, Out]{in: in, at: time.Now(), done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := b.active < b.runners
	if start {
		b.active++
	}
	if len(b.queue) == b.LingerBelow {
		select { // a runner lingering for more need not wait out its time
		case b.filled <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	if start {
		go b.loop()
	}
	<-c.done
	return c.out, c.err
}

func (b *Batcher[In, Out]) loop() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.active--
			b.mu.Unlock()
			return
		}
		if len(b.queue) < b.LingerBelow {
			if wait := b.Linger - time.Since(b.queue[0].at); wait > 0 {
				b.mu.Unlock()
				b.linger(wait)
				continue
			}
		}
		n := min(len(b.queue), b.max)
		batch := b.queue[:n:n]
		b.queue = append([]*batchCall[In, Out](nil), b.queue[n:]...)
		b.mu.Unlock()
		b.runBatch(batch)
	}
}

// linger waits up to d, or until the queue holds LingerBelow requests.
func (b *Batcher[In, Out]) linger(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.filled:
	}
}

func (b *Batcher[In, Out]) runBatch(batch []*batchCall[In, Out]) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if err := b.runCalls(ctx, batch); err != nil && len(batch) > 1 && b.Split != nil && b.Split(err) {
		// One request broke the call (a repeated key, a value Postgres refuses): each runs alone,
		// so the others land and only that request's caller gets the error.
		for _, c := range batch {
			_ = b.runCalls(ctx, []*batchCall[In, Out]{c})
		}
	}
	for _, c := range batch {
		close(c.done)
	}
}

// runCalls runs one statement for calls and gives each its output, or the statement's error.
func (b *Batcher[In, Out]) runCalls(ctx context.Context, calls []*batchCall[In, Out]) error {
	ins := make([]In, len(calls))
	for i, c := range calls {
		ins[i] = c.in
	}
	outs, err := b.run(ctx, ins)
	for i, c := range calls {
		if c.err = err; err == nil {
			c.out = outs[i]
		}
	}
	return err
}
