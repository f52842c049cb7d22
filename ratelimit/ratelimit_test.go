package ratelimit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/testenv"
)

// nothing is the usage of portfolios that never sent.
func nothing(context.Context, int64) (Usage, error) { return Usage{}, nil }

// Two limiters (two worker processes) on one Redis share a number's throughput: together they
// are never ahead of 98.5 sends a second (Safety), and they keep sending. On a loaded machine,
// where these goroutines wait for the CPU, sends only come later, so the test holds there too.
func TestThroughputIsShared(t *testing.T) {
	rdb := testenv.Redis(t)
	a, b := New(rdb, nothing, 0, 50*time.Millisecond), New(rdb, nothing, 0, 50*time.Millisecond)
	const sends = 200
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	var allowed, ahead atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for n := 0; ctx.Err() == nil && allowed.Load() < sends; n++ {
				d, err := l.Acquire(ctx, Send{PhoneNumberID: "n1", Portfolio: 1, MPS: 100, Recipient: fmt.Sprint(i, "-", n)})
				if err != nil || !d.Allowed {
					continue
				}
				// The k-th send's slot is (k-1)/98.5 s after the first: Acquire returns no sooner.
				if k := allowed.Add(1); float64(k-1) > 100*Safety*time.Since(start).Seconds()+1 {
					ahead.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got < sends {
		t.Fatalf("%d sends in 20 s at 100 mps", got)
	}
	if n := ahead.Load(); n > 0 {
		t.Fatalf("%d sends ahead of the rate (in %s)", n, time.Since(start))
	}
}

func TestPairRate(t *testing.T) {
	l := New(testenv.Redis(t), nothing, time.Second, time.Second) // long enough for a loaded machine
	ctx := context.Background()
	s := Send{PhoneNumberID: "n1", Portfolio: 1, MPS: 1000, Recipient: "14155550100"}
	if d, _ := l.Acquire(ctx, s); !d.Allowed {
		t.Fatal("first send refused")
	}
	d, err := l.Acquire(ctx, s)
	if err != nil || d.Allowed || d.Reason != ReasonPair || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("second send at once: %+v %v", d, err)
	}
	other := s
	other.Recipient = "14155550101"
	if d, _ := l.Acquire(ctx, other); !d.Allowed {
		t.Fatal("another recipient refused")
	}
	time.Sleep(d.RetryAfter + 10*time.Millisecond)
	if d, _ := l.Acquire(ctx, s); !d.Allowed {
		t.Fatalf("after the interval: %+v", d)
	}
}

func TestTierCountsUniqueRecipients(t *testing.T) {
	l := New(testenv.Redis(t), nothing, 0, time.Second)
	ctx := context.Background()
	send := func(to string, window bool) Decision {
		d, err := l.Acquire(ctx, Send{PhoneNumberID: "n1", Portfolio: 7, MPS: 1000, Tier: 3, Recipient: to, InServiceWindow: window})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, to := range []string{"a", "b", "c"} {
		if !send(to, false).Allowed {
			t.Fatalf("%s refused within the tier", to)
		}
	}
	if d := send("d", false); d.Allowed || d.Reason != ReasonTier || d.RetryAfter < 23*time.Hour {
		t.Fatalf("a fourth recipient on a tier of 3: %+v", d)
	}
	if !send("a", false).Allowed {
		t.Fatal("a recipient already counted was refused")
	}
	if !send("e", true).Allowed {
		t.Fatal("a recipient inside a service window was refused")
	}
	// Another portfolio has its own tier.
	if d, _ := l.Acquire(ctx, Send{PhoneNumberID: "n2", Portfolio: 8, MPS: 1000, Tier: 3, Recipient: "d"}); !d.Allowed {
		t.Fatal("another portfolio's tier was used")
	}
	if n, err := l.TierUsage(ctx, 7); err != nil || n != 3 {
		t.Fatalf("usage %d %v", n, err)
	}
}

// The tier's slots free as each counted recipient's 24 h passes: the oldest first, those already
// past left out.
func TestTierFrees(t *testing.T) {
	rdb := testenv.Redis(t)
	l := New(rdb, nothing, 0, time.Second)
	ctx := context.Background()
	now := time.Now()
	for i, ago := range []time.Duration{25 * time.Hour, 23 * time.Hour, 2 * time.Hour, 20 * time.Hour} {
		rdb.ZAdd(ctx, "wa:"+portfolioTag(7)+":tier", redis.Z{Score: float64(now.Add(-ago).UnixMilli()), Member: fmt.Sprint("r", i)})
	}
	frees, err := l.TierFrees(ctx, 7, 2)
	if err != nil || len(frees) != 2 {
		t.Fatalf("TierFrees = %v, %v", frees, err)
	}
	for i, want := range []time.Duration{time.Hour, 4 * time.Hour} {
		if d := frees[i].Sub(now); d < want-time.Second || d > want+time.Second {
			t.Errorf("slot %d frees in %v, want %v", i, d, want)
		}
	}
	if all, _ := l.TierFrees(ctx, 7, 10); len(all) != 3 {
		t.Errorf("%d slots to free, want 3 (one recipient's 24 h passed)", len(all))
	}
}

// When Redis loses the limiter's state mid-sending, the tier's recipients come back from
// Postgres (here a stand-in) before anything is admitted, and new throughput slots wait until
// those handed out before the loss have passed.
func TestRebuiltAfterRedisLoss(t *testing.T) {
	rdb := testenv.Redis(t)
	reached := Usage{Busy: true, Reached: []Reached{{"a", time.Now().Add(-time.Hour)}, {"b", time.Now()}}}
	reads := 0
	l := New(rdb, func(_ context.Context, portfolio int64) (Usage, error) {
		reads++
		if portfolio != 7 {
			return Usage{}, nil
		}
		return reached, nil
	}, 0, 2*time.Second) // held back 2 s: far from the quick sends, on a loaded machine too
	ctx := context.Background()
	send := func(to string) (Decision, time.Duration) {
		start := time.Now()
		d, err := l.Acquire(ctx, Send{PhoneNumberID: "n1", Portfolio: 7, MPS: 1000, Tier: 3, Recipient: to})
		if err != nil {
			t.Fatal(err)
		}
		return d, time.Since(start)
	}
	for round := range 2 {
		if err := rdb.FlushDB(ctx).Err(); err != nil { // as a restart without persistence
			t.Fatal(err)
		}
		if d, took := send("c"); !d.Allowed || took < 1900*time.Millisecond {
			t.Fatalf("round %d: first send after the loss: %+v after %s (slots handed out before may be ahead)", round, d, took)
		}
		if d, took := send("a"); !d.Allowed || took > time.Second {
			t.Fatalf("round %d: a counted recipient: %+v after %s", round, d, took)
		}
		if d, _ := send("d"); d.Allowed || d.Reason != ReasonTier {
			t.Fatalf("round %d: a fourth recipient after the loss: %+v", round, d)
		}
	}
	if reads != 2 {
		t.Fatalf("usage read %d times for 2 losses", reads)
	}
	if n, _ := l.TierUsage(ctx, 7); n != 3 {
		t.Fatalf("usage %d after the rebuild", n)
	}
}

func TestSlowDown(t *testing.T) {
	l := New(testenv.Redis(t), nothing, 0, 0)
	for range 30 { // refusals of one burst
		l.SlowDown("n1")
	}
	if f := l.factor("n1"); f != 0.8 {
		t.Fatalf("one burst of refusals: factor %v", f)
	}
	time.Sleep(slowDownEvery)
	l.SlowDown("n1")
	if f := l.factor("n1"); f < 0.63 || f > 0.65 {
		t.Fatalf("two slow-downs a second apart: factor %v", f)
	}
	if l.factor("n2") != 1 {
		t.Fatal("another number slowed")
	}
}

func TestEffectiveMPS(t *testing.T) {
	for _, c := range []struct {
		mps    int32
		factor float64
		cap    int32
		want   float64
	}{{80, 1, 0, 80}, {80, 0.5, 0, 40}, {1000, 1, 200, 200}, {80, 0.5, 60, 40}} {
		if got := EffectiveMPS(c.mps, c.factor, c.cap); got != c.want {
			t.Errorf("%d mps, factor %v, cap %d: %v, want %v", c.mps, c.factor, c.cap, got, c.want)
		}
	}
}

// A send that lost its slot takes the number's next one with Again, however far past the
// horizon, without being refused for its own pair key or counted twice against the tier; its
// pair key moves with it.
func TestAgainTakesTheNextSlot(t *testing.T) {
	l := New(testenv.Redis(t), nothing, time.Second, 50*time.Millisecond)
	ctx := context.Background()
	s := Send{PhoneNumberID: "n1", Portfolio: 3, MPS: 10, Tier: 1, Recipient: "14155550100"}
	first, err := l.Acquire(ctx, s)
	if err != nil || !first.Allowed || time.Until(first.SendBy) > l.Tolerance {
		t.Fatalf("first send: %+v %v", first, err)
	}
	if d, _ := l.Acquire(ctx, Send{PhoneNumberID: "n1", Portfolio: 3, MPS: 10, Recipient: "14155550101"}); d.Allowed || d.Reason != ReasonThroughput {
		t.Fatalf("the next slot is beyond the horizon: %+v", d)
	}
	start := time.Now()
	again, err := l.Again(ctx, s)
	if err != nil || !again.Allowed || time.Since(start) < 80*time.Millisecond || again.SendBy.Sub(first.SendBy) < 80*time.Millisecond {
		t.Fatalf("again: %+v %v after %s", again, err, time.Since(start))
	}
	// The pair key now lasts the interval from the new slot: without the move it would end a second
	// after the first slot, some 100 ms sooner (the times, not the durations, so a loaded machine
	// does not stretch them).
	moved := again.SendBy.Sub(first.SendBy)
	d, _ := l.Acquire(ctx, s)
	if left := time.Until(again.SendBy.Add(time.Second - l.Tolerance)); d.Allowed || d.Reason != ReasonPair || d.RetryAfter < left-moved/2 {
		t.Fatalf("the pair key did not move with the slot: %+v, want about %s left", d, left)
	}
	if d, _ := l.Acquire(ctx, Send{PhoneNumberID: "n1", Portfolio: 3, MPS: 10, Tier: 1, Recipient: "14155550102"}); d.Reason != ReasonTier {
		t.Fatalf("the tier counts one recipient: %+v", d)
	}
}

// Safety's margin covers a send written up to 15 ms after its slot; a larger tolerance spaces the
// slots so that a second and its tolerance of them never pass the limit.
func TestSpacingCoversTheTolerance(t *testing.T) {
	l := New(nil, nothing, 0, time.Second)
	for _, c := range []struct {
		tolerance time.Duration
		want      float64
	}{{DefaultTolerance, Safety}, {15 * time.Millisecond, Safety}, {100 * time.Millisecond, Safety / 1.1}} {
		l.Tolerance = c.tolerance
		if got := l.spacing(); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("tolerance %v: spacing %v, want %v", c.tolerance, got, c.want)
		}
		// The worst case: a second's slots, and those of the tolerance before it, all in one second.
		for _, mps := range []float64{80, 1000} {
			if worst := math.Floor(mps*l.spacing()*(1+c.tolerance.Seconds())) + 1; worst > mps {
				t.Errorf("tolerance %v at %v mps: %v sends in a second", c.tolerance, mps, worst)
			}
		}
	}
}

// Sends that all find Redis without a portfolio's state reseed it at once: the first reseed's mark
// stands, so a later one, which finds the portfolio busy with the sends the first let through,
// does not hold every slot back by the horizon.
func TestConcurrentReseedsKeepTheFirstMark(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	var busy atomic.Bool
	l := New(rdb, func(context.Context, int64) (Usage, error) { return Usage{Busy: busy.Load()}, nil }, 0, 2*time.Second)
	if err := l.reseed(ctx, 9); err != nil { // the first: nothing sent yet
		t.Fatal(err)
	}
	busy.Store(true)
	if err := l.reseed(ctx, 9); err != nil { // one that saw no state before the first finished
		t.Fatal(err)
	}
	start := time.Now()
	if d, err := l.Acquire(ctx, Send{PhoneNumberID: "n9", Portfolio: 9, MPS: 1000, Recipient: "a"}); err != nil || !d.Allowed || time.Since(start) > time.Second {
		t.Fatalf("a send after two reseeds: %+v %v after %s", d, err, time.Since(start))
	}
}

// Sends that find a portfolio without state at once (every handler of a worker, after Redis lost
// its data) read its usage from Postgres once, not once each: that read scans a day of the
// portfolio's messages. The first asker's end does not fail the others.
func TestConcurrentSendsReseedOnce(t *testing.T) {
	rdb := testenv.Redis(t)
	var reads atomic.Int32
	l := New(rdb, func(ctx context.Context, _ int64) (Usage, error) {
		reads.Add(1)
		time.Sleep(50 * time.Millisecond) // a slow read: the others arrive meanwhile
		return Usage{}, ctx.Err()
	}, 0, 2*time.Second)
	first, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = l.Acquire(first, Send{PhoneNumberID: "n7", Portfolio: 7, MPS: 1000, Recipient: "first"})
	})
	time.Sleep(10 * time.Millisecond)
	cancel() // the first asker's task ended
	for i := range 50 {
		wg.Go(func() {
			if d, err := l.Acquire(context.Background(), Send{PhoneNumberID: "n7", Portfolio: 7, MPS: 1000, Recipient: fmt.Sprint(i)}); err != nil || !d.Allowed {
				t.Errorf("send %d: %+v %v", i, d, err)
			}
		})
	}
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads of the portfolio's usage, want 1", n)
	}
}

// Concurrent sends' checks share pipelines, and a Redis that lost its scripts (SCRIPT FLUSH, a
// restart) has the script loaded again and runs each check once.
func TestChecksSharePipelines(t *testing.T) {
	rdb := testenv.Redis(t)
	hook := testenv.HoldPipelines(rdb, "evalsha")
	if err := rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Set(context.Background(), "wa:{p9}:seeded", 0, 0) // seeded: no reseed's second round
	l := New(rdb, nothing, 0, 2*time.Second)
	const sends, mps = 40, 100
	var wg sync.WaitGroup
	for i := range sends {
		wg.Go(func() {
			d, err := l.Acquire(context.Background(), Send{PhoneNumberID: "n9", Portfolio: 9, MPS: mps, Recipient: fmt.Sprint(i)})
			if err != nil || !d.Allowed {
				t.Errorf("send %d: %+v %v", i, d, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the first pipeline is held: the others gather behind it
	released, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	hook.Release()
	wg.Wait()
	done, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The first pipeline (NOSCRIPT), its rerun after the load, and the 39 others in two more.
	if n := hook.Count(); n > 4 {
		t.Fatalf("%d sends took %d pipelines, want at most 4", sends, n)
	}
	// Each check ran once: the number's next slot is 40 slots after the first, which came after
	// the release and before the end (80 had the NOSCRIPT pipeline's calls run twice). Measured
	// from the end, not the release, so a loaded machine's slow start does not count.
	next, err := rdb.Get(context.Background(), "wa:{p9}:mps:n9").Int64()
	if err != nil {
		t.Fatal(err)
	}
	rate := float64(mps * Safety)
	slot := time.Duration(float64(time.Second) / rate)
	at := time.UnixMicro(next)
	if after, ahead := at.Sub(released), at.Sub(done); after < sends*slot || ahead > (sends+1)*slot {
		t.Fatalf("next slot %s after the release and %s after the last check, want at least %s and at most %s", after, ahead,
			sends*slot, (sends+1)*slot)
	}
}

// A send sleeps until its slot however late its caller resumes after Redis answered: answers come
// in a pipeline shared with other sends, whose callers resume one by one. A hook holds the second
// send's answer for a second after Redis gave it (its slot two seconds on, at half a send a
// second); the send still wakes at its slot, not a second after it.
func TestSendWakesAtItsSlot(t *testing.T) {
	rdb := testenv.Redis(t)
	l := New(rdb, nothing, 0, 10*time.Second)
	ctx := context.Background()
	send := Send{PhoneNumberID: "n1", Portfolio: 1, MPS: 0.5, Recipient: "r1"}
	if d, err := l.Acquire(ctx, send); err != nil || !d.Allowed {
		t.Fatalf("first send: %+v, %v", d, err)
	}
	hold := &answerHold{delay: time.Second}
	rdb.AddHook(hold)
	hold.armed.Store(true)
	send.Recipient = "r2"
	d, err := l.Acquire(ctx, send)
	woke := time.Now()
	if err != nil || !d.Allowed {
		t.Fatalf("second send: %+v, %v", d, err)
	}
	if late := woke.Sub(d.SendBy.Add(-l.Tolerance)); late > 500*time.Millisecond {
		t.Fatalf("woke %s after its slot", late)
	}
}

// answerHold delays the next pipeline's return, once armed, after Redis answered it.
type answerHold struct {
	delay time.Duration
	armed atomic.Bool
}

func (*answerHold) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*answerHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *answerHold) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if h.armed.CompareAndSwap(true, false) {
			time.Sleep(h.delay)
		}
		return err
	}
}
