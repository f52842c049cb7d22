package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/testenv"
)

func newHeart(t *testing.T) (*Heart, *pgxpool.Pool) {
	t.Helper()
	pool := testenv.DB(t)
	h := NewHeart(pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := h.register(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h, pool
}

// A beat lists only the sends whose slot is more than the fence margin ahead; a listed send is
// written only once a recorded beat vouches for its slot; a send a beat never listed, or whose
// slot a beat covers, is written at once.
func TestHeartVouchesForListedSlots(t *testing.T) {
	h, pool := newHeart(t)
	ctx := context.Background()
	now := time.Now()
	h.Waits(1, now.Add(time.Second))             // far: listed by the next beat
	h.Waits(2, now.Add(FenceMargin/2))           // near: never listable
	h.Waits(3, now.Add(FenceMargin+time.Second)) // far, taken off before any beat
	if err := h.MayWrite(3); err != nil {
		t.Fatalf("a send no beat listed: %v", err)
	}
	if err := h.beat(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	if err := pool.QueryRow(ctx, `SELECT pending_ids FROM workers WHERE id = $1`, h.ID()).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int64{1}) {
		t.Fatalf("the beat listed %v, want [1]", ids)
	}
	// The latest recorded beat is about now: slot 1 is more than the margin after it.
	h.Waits(1, now.Add(time.Second)) // the same send's slot again (as Again gives): still listed
	if err := h.MayWrite(1); !errors.Is(err, errUnvouched) {
		t.Fatalf("a listed send past what the beats vouch for: %v", err)
	}
	h.Waits(1, now.Add(2*time.Second)) // its next slot keeps the listing
	if err := h.MayWrite(1); !errors.Is(err, errUnvouched) {
		t.Fatalf("a listed send's next slot: %v", err)
	}
	if err := h.MayWrite(2); err != nil {
		t.Fatalf("a send never listed: %v", err)
	}
	h.Waits(4, time.Now().Add(FenceMargin+50*time.Millisecond))
	if err := h.beat(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if err := h.beat(ctx); err != nil { // this beat is within the margin of slot 4
		t.Fatal(err)
	}
	if err := h.MayWrite(4); err != nil {
		t.Fatalf("a listed send a later beat vouches for: %v", err)
	}
}

// A worker the scheduler fenced (it stalled and was taken for dead) registers again at its next
// beat, and never writes a send it had listed under the fenced registration.
func TestFencedHeartRegistersAgain(t *testing.T) {
	h, pool := newHeart(t)
	ctx := context.Background()
	h.Waits(7, time.Now().Add(time.Second))
	if err := h.beat(ctx); err != nil {
		t.Fatal(err)
	}
	old := h.ID()
	if _, err := pool.Exec(ctx, `UPDATE workers SET fenced_at = now() WHERE id = $1`, old); err != nil {
		t.Fatal(err)
	}
	if err := h.beat(ctx); err != nil {
		t.Fatal(err)
	}
	if h.ID() == old {
		t.Fatal("the fenced worker kept its registration")
	}
	time.Sleep(time.Second)
	if err := h.beat(ctx); err != nil { // a recorded beat past the slot, under the new registration
		t.Fatal(err)
	}
	if err := h.MayWrite(7); !errors.Is(err, errFenced) {
		t.Fatalf("a send listed under a fenced registration: %v", err)
	}
}
