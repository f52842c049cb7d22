package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/sendtask"
)

// A worker process beats in Postgres (the workers table) every BeatEvery, listing the sends that
// wait for a throughput slot further than FenceMargin ahead. It writes such a listed send only
// while its slot is at most FenceMargin after its latest recorded beat. When a worker stops
// beating (killed), the scheduler fences it (no beat of it is recorded any more) and knows: a
// listed send whose slot is later than the last beat plus FenceMargin was never written, and goes
// back to the queue; what else it had claimed is unknown. The proof holds on any machine however
// slow: it compares the same two recorded values the worker compared, not clocks.
const (
	BeatEvery   = 100 * time.Millisecond
	FenceMargin = sendtask.FenceMargin
)

// Heart is a worker process's heartbeat and the record of its sends waiting for their slot.
type Heart struct {
	q   *queries.Queries
	log *slog.Logger

	mu        sync.Mutex
	id        int64
	confirmed time.Time // beat_at of the latest beat Postgres recorded under id
	waiting   map[int64]*waitingSend
	stop      context.CancelFunc
	done      chan struct{}
}

// waitingSend is a claimed send with its slot, until it is written or given up.
type waitingSend struct {
	id     int64 // the registration it waited under
	slot   time.Time
	listed bool // a beat listing it was sent: it may have been recorded
}

// NewHeart makes a heart; Start registers the worker.
func NewHeart(pool *pgxpool.Pool, log *slog.Logger) *Heart {
	return &Heart{q: queries.New(pool), log: log, waiting: map[int64]*waitingSend{}}
}

// Start registers the worker and beats until Stop.
func (h *Heart) Start(ctx context.Context) error {
	if err := h.register(ctx); err != nil {
		return err
	}
	ctx, h.stop = context.WithCancel(context.WithoutCancel(ctx))
	h.done = make(chan struct{})
	go h.run(ctx)
	return nil
}

// Stop ends the beats and retires the worker; call it after every handler returned.
func (h *Heart) Stop() {
	h.stop()
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.q.RetireWorker(ctx, h.ID()); err != nil {
		h.log.Warn("worker not retired", "err", err)
	}
}

// ID is the worker's current registration, which claims record.
func (h *Heart) ID() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.id
}

func (h *Heart) register(ctx context.Context) error {
	host, _ := os.Hostname()
	now := recorded(time.Now())
	id, err := h.q.RegisterWorker(ctx, queries.RegisterWorkerParams{Name: fmt.Sprintf("%s:%d", host, os.Getpid()), BeatAt: now})
	if err != nil {
		return fmt.Errorf("register worker: %w", err)
	}
	h.mu.Lock()
	h.id, h.confirmed = id, now
	h.mu.Unlock()
	return nil
}

func (h *Heart) run(ctx context.Context) {
	defer close(h.done)
	t := time.NewTicker(BeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := h.beat(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("heartbeat", "err", err)
		}
	}
}

// beat records the worker alive now, with the sends whose slot is further than FenceMargin ahead
// (only those can ever be proven unwritten).
func (h *Heart) beat(ctx context.Context) error {
	now := recorded(time.Now())
	h.mu.Lock()
	id := h.id
	p := queries.BeatWorkerParams{ID: id, BeatAt: now, PendingIds: []int64{}, PendingSlots: []time.Time{}}
	for msg, w := range h.waiting {
		if w.id == id && w.slot.After(now.Add(FenceMargin)) {
			w.listed = true
			p.PendingIds, p.PendingSlots = append(p.PendingIds, msg), append(p.PendingSlots, w.slot)
		}
	}
	h.mu.Unlock()
	n, err := h.q.BeatWorker(ctx, p)
	if err != nil {
		return err
	}
	if n == 0 { // fenced: taken for dead while it stalled. Its listed sends stay unwritten.
		h.log.Error("this worker was taken for dead (it stalled for too long): registering again")
		return h.register(ctx)
	}
	h.mu.Lock()
	if h.id == id && now.After(h.confirmed) {
		h.confirmed = now
	}
	h.mu.Unlock()
	return nil
}

// Waits records that the claimed message waits for its throughput slot, if that is far enough
// ahead for a beat to list it.
func (h *Heart) Waits(msg int64, slot time.Time) {
	far := slot.After(time.Now().Add(FenceMargin))
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.waiting[msg]; ok { // a later slot of a send a beat may have listed: still listed
		w.slot = recorded(slot)
		return
	}
	if far {
		h.waiting[msg] = &waitingSend{id: h.id, slot: recorded(slot)}
	}
}

// Sends the worker must not write (yet). errUnvouched: a beat may have listed the send, and its
// slot is more than FenceMargin after the latest recorded beat (the scheduler could take it for
// unwritten): it takes a later slot and keeps its listing. errFenced: it was claimed under a
// registration fenced since; the scheduler settles it, the worker gives it up.
var (
	errUnvouched = errors.New("worker: the send's slot is past what this worker's recorded heartbeats vouch for")
	errFenced    = errors.New("worker: the send was claimed under a registration the scheduler fenced")
)

// MayWrite answers whether the message may be written now (see errUnvouched, errFenced). Once it
// answers nil, no beat lists the send any more.
func (h *Heart) MayWrite(msg int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.waiting[msg]
	switch {
	case !ok:
		return nil
	case w.id != h.id:
		delete(h.waiting, msg)
		return errFenced
	case w.listed && w.slot.After(h.confirmed.Add(FenceMargin)):
		return errUnvouched
	}
	delete(h.waiting, msg)
	return nil
}

// Forget takes a message that will not be written off the waiting list.
func (h *Heart) Forget(msg int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.waiting, msg)
}

// recorded is t as Postgres keeps it (microseconds, wall clock): what the worker compares must be
// what the scheduler will compare.
func recorded(t time.Time) time.Time { return t.Round(0).Truncate(time.Microsecond) }
