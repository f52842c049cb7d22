// Package ratelimit holds Meta's limits for every worker process at once, in Redis, checked for a
// send in one Lua call (admit.lua): throughput per number (a GCRA that hands out slots), unique
// recipients per moving 24 h per business portfolio (a sorted set), and the pair rate per number
// and recipient (a key with an expiry).
//
// Redis may lose that state (wiped, or restarted without persistence) while sends go on. Each
// portfolio's state carries a seed mark; without it, the limiter rebuilds the tier's recipients
// from Postgres (the truth) before admitting anything, and holds new throughput slots back until
// those handed out before the loss have passed. Pair-rate keys are not rebuilt: they live 6 s.
package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/dripcast/dripcast/batch"
)

// Reasons a send must wait.
const (
	ReasonThroughput = "throughput"
	ReasonTier       = "tier"
	ReasonPair       = "pair"
	reasonReseed     = "reseed"
)

// Safety keeps the shared rate a little under the number's limit: slots are spaced evenly, but
// sends reach Meta with jitter, and Meta counts per second. At 98.5 %, a send may arrive 15 ms
// later than its slot without two seconds' sends meeting in one: BenchmarkRateAccuracy and the
// worker kill and stop scenarios at Meta's full limit kept every second under it. On a loaded
// machine the jitter is larger (the chaos tests give Dripcast 85 % of metasim's limit); should
// Meta still answer 130429, the send is retried and the number slowed (SlowDown).
const Safety = 0.985

// SlotHorizon is how far ahead workers take throughput slots. A message waits for its slot
// claimed (in sending): a worker killed meanwhile leaves it unknown, though Meta never got it, so
// the horizon is short; half a second still keeps a number's slots taken through a worker's
// stall. Sends further out go back to the queue until their slot comes near.
const SlotHorizon = 500 * time.Millisecond

// TierWindow is Meta's moving window for unique recipients.
const TierWindow = 24 * time.Hour

// Send describes one message about to go out.
type Send struct {
	PhoneNumberID   string
	Portfolio       int64
	MPS             float64 // the number's throughput after policy (quality, rate cap); > 0
	Tier            int     // unique recipients per moving 24 h; 0 = unlimited
	Recipient       string
	InServiceWindow bool // the user wrote in the last 24 h: not counted against the tier
	// Slotted, when set, is told an allowed send's slot (the local time it wakes for) before
	// the sleep until it.
	Slotted func(wake time.Time)
}

// Decision says whether the send may go now, and if not, why and for how long to wait. An
// allowed send must be written by SendBy, its slot plus the tolerance, or not at all (Again).
type Decision struct {
	Allowed    bool
	Reason     string
	RetryAfter time.Duration
	SendBy     time.Time
}

// DefaultTolerance is how late after its throughput slot a send may still be written: one later
// than that could meet the next second's sends in one sliding second.
const DefaultTolerance = 5 * time.Millisecond

// Usage is what Postgres knows of a portfolio's sending, to rebuild its state in Redis.
type Usage struct {
	Reached []Reached // recipients reached (or maybe reached) in the moving 24 h
	Busy    bool      // it sent in the last second: throughput slots handed out may still be ahead
}

// Reached is one recipient of a portfolio and when it was reached.
type Reached struct {
	Recipient string
	At        time.Time
}

// UsageFunc reads a portfolio's usage from Postgres.
type UsageFunc func(ctx context.Context, portfolio int64) (Usage, error)

// Limiter checks sends against Redis. It is safe for concurrent use.
type Limiter struct {
	// Tolerance is how late after its slot an allowed send may be written (DefaultTolerance).
	Tolerance time.Duration

	rdb      redis.UniversalClient
	usage    UsageFunc
	pair     time.Duration
	maxWait  time.Duration
	mu       sync.Mutex
	slowdown map[string]slowdown
	// reseeds shares one portfolio's reseed among the sends that need it at once (every handler
	// of a worker, after Redis lost its data): one read of a day of its messages, not one each.
	reseeds singleflight.Group
	// reseeded holds when each portfolio's last reseed was written (under mu): a send whose check
	// was asked before then may have seen Redis just before it, and needs no reseed of its own.
	reseeded map[int64]time.Time
	// checks sends the admissions of concurrent sends in one pipeline: one write and one read
	// for all of them, in this process and in Redis, instead of a round trip each.
	checks *batch.Batcher[admitCall, admitAnswer]
}

// admitCall is one send's call of admit.lua.
type admitCall struct {
	keys []string
	args []any
}

// admitAnswer is the script's answer to one call, with the instants just before the pipeline
// was written and just after it was answered: Redis read its clock in between.
type admitAnswer struct {
	v               []any
	err             error
	asked, answered time.Time
}

// Admissions of up to checksMax sends go in one pipeline, one pipeline at a time: while it is
// answered the next gathers. A send wakes for its slot as measured from the pipeline's answer,
// and Redis runs the calls one after another (about 15 µs each): a pipeline of 32 wakes its first
// send at most half a millisecond after its slot, well within the tolerance.
const checksMax = 32

type slowdown struct {
	factor float64
	cut    time.Time // when the factor last went down
	until  time.Time
}

// slowDownEvery is how often refusals may lower a number's rate again. Refusals arrive together
// when sends bunched (workers stalled, then caught up): one such burst cut the rate to a quarter
// at once, 20 % per refusal, and held it there for 30 s; a cut's effect only shows a second later.
const slowDownEvery = time.Second

// New makes a limiter. pairInterval is the least time between two messages from one number to
// one user (Meta: about 6 s); maxWait is the furthest ahead a throughput slot is handed out:
// Acquire sleeps until a slot that near, and answers "wait" for a later one. usage rebuilds a
// portfolio's state when Redis has none.
func New(rdb redis.UniversalClient, usage UsageFunc, pairInterval, maxWait time.Duration) *Limiter {
	l := &Limiter{Tolerance: DefaultTolerance, rdb: rdb, usage: usage, pair: pairInterval, maxWait: maxWait, slowdown: map[string]slowdown{},
		reseeded: map[int64]time.Time{}}
	l.checks = batch.New(1, checksMax, l.admitBatch)
	return l
}

//go:embed admit.lua
var admitLua string

var admitScript = redis.NewScript(admitLua)

// Acquire decides one send, in one round trip to Redis: pair rate and tier first (a send refused
// for those takes no throughput slot), then the number's next throughput slot, which it sleeps
// until.
func (l *Limiter) Acquire(ctx context.Context, s Send) (Decision, error) {
	return l.admit(ctx, s, false)
}

// Again gives an allowed send whose slot passed before it could be written the number's next
// slot (the lost one is not made up for: that would burst), and sleeps until it. Its pair rate
// and tier entry move with it.
func (l *Limiter) Again(ctx context.Context, s Send) (Decision, error) {
	return l.admit(ctx, s, true)
}

func (l *Limiter) admit(ctx context.Context, s Send, again bool) (Decision, error) {
	mps := s.MPS * l.factor(s.PhoneNumberID) * l.spacing()
	tag := portfolioTag(s.Portfolio)
	keys := []string{"wa:" + tag + ":pair:" + s.PhoneNumberID + ":" + s.Recipient, "wa:" + tag + ":tier", "wa:" + tag + ":mps:" + s.PhoneNumberID,
		"wa:" + tag + ":seeded"}
	args := []any{l.pair.Milliseconds(), s.Tier, TierWindow.Milliseconds(), s.Recipient, flag(s.InServiceWindow), int64(1e6 / mps),
		l.maxWait.Microseconds(), flag(again)}
	call := admitCall{keys: keys, args: args}
	a, err := l.check(call)
	if err == nil && a.v[1].(string) == reasonReseed {
		if err = l.sharedReseed(ctx, s.Portfolio, a.asked); err == nil {
			a, err = l.check(call)
		}
	}
	if err != nil {
		return Decision{}, fmt.Errorf("limits: %w", err)
	}
	v, asked, answered := a.v, a.asked, a.answered
	wait := time.Duration(v[2].(int64)) * time.Microsecond
	if v[0].(int64) != 1 {
		return Decision{Reason: v[1].(string), RetryAfter: wait}, nil
	}
	// Redis read its clock between asking and answering, so the slot is wait after some instant
	// in between: the send wakes at the slot by Redis's clock, kept within those instants should
	// the clocks differ, and must be written by then plus the tolerance. It sleeps until that
	// instant, not for wait from when it resumes: the answer came in a pipeline shared with other
	// sends, whose callers resume one by one, milliseconds apart on a busy machine.
	slot, _ := strconv.ParseInt(v[3].(string), 10, 64)
	wake := clamp(time.UnixMicro(slot), asked.Add(wait), answered.Add(wait))
	if s.Slotted != nil {
		s.Slotted(wake)
	}
	if d := time.Until(wake); d > 0 {
		select {
		case <-ctx.Done():
			return Decision{}, ctx.Err() // the slot goes unused
		case <-time.After(d):
		}
	}
	return Decision{Allowed: true, SendBy: wake.Add(l.Tolerance)}, nil
}

// check runs one call of admit.lua in the next pipeline.
func (l *Limiter) check(c admitCall) (admitAnswer, error) {
	a, err := l.checks.Do(c)
	if err == nil {
		err = a.err
	}
	return a, err
}

// admitBatch calls admit.lua once per call, in one pipeline. A Redis that does not know the script
// (restarted, wiped by SCRIPT FLUSH) answers NOSCRIPT to those calls alone: they run again after
// the script is loaded; the others ran and must not run twice.
func (l *Limiter) admitBatch(ctx context.Context, calls []admitCall) ([]admitAnswer, error) {
	out := make([]admitAnswer, len(calls))
	todo := make([]int, len(calls))
	for i := range todo {
		todo[i] = i
	}
	for try := 0; len(todo) > 0; try++ {
		asked := time.Now()
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for j, i := range todo {
			cmds[j] = admitScript.EvalSha(ctx, pipe, calls[i].keys, calls[i].args...)
		}
		_, _ = pipe.Exec(ctx) // each command carries its own error
		answered := time.Now()
		var again []int
		for j, i := range todo {
			err := cmds[j].Err()
			if redis.HasErrorPrefix(err, "NOSCRIPT") && try == 0 {
				again = append(again, i)
				continue
			}
			v, _ := cmds[j].Slice()
			out[i] = admitAnswer{v: v, err: err, asked: asked, answered: answered}
		}
		if todo = again; len(todo) > 0 {
			if err := admitScript.Load(ctx, l.rdb).Err(); err != nil {
				for _, i := range todo {
					out[i].err = err
				}
				break
			}
		}
	}
	return out, nil
}

// safetyCovers is the lateness Safety's margin absorbs: a second may then hold the slots of
// 1.015 s, 0.985 × 1.015 of the limit, and one more.
const safetyCovers = 15 * time.Millisecond

// spacing is the share of a number's rate its slots are handed out at: Safety, for a Tolerance
// it covers; with a larger one, a second's sends may come from 1 + Tolerance seconds of slots, so
// those are what Safety keeps under the limit.
func (l *Limiter) spacing() float64 {
	if l.Tolerance <= safetyCovers {
		return Safety
	}
	return Safety / (1 + l.Tolerance.Seconds())
}

// clamp is t kept within [lo, hi].
func clamp(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// portfolioTag keeps a portfolio's keys in one Redis Cluster slot, as its Lua call needs.
func portfolioTag(portfolio int64) string { return "{p" + strconv.FormatInt(portfolio, 10) + "}" }

// reseed rebuilds a portfolio's state from Postgres: the recipients of the moving 24 h into the
// tier's set (keeping a later time already there), and the seed mark, which holds new throughput
// slots back by maxWait when the portfolio was busy: sends from before the loss may still be
// waiting for theirs.
// Concurrent reseeds of one portfolio add the same recipients; the first sets the mark, and a
// later one leaves it: by then the portfolio may be busy with the sends the first one let through,
// which must not hold everything back again (a first burst of sends saw the mark moved 500 ms on).
func (l *Limiter) reseed(ctx context.Context, portfolio int64) error {
	u, err := l.usage(ctx, portfolio)
	if err != nil {
		return fmt.Errorf("read usage of portfolio %d: %w", portfolio, err)
	}
	now, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return err
	}
	mark := int64(0)
	if u.Busy {
		mark = now.Add(l.maxWait).UnixMicro()
	}
	tag := portfolioTag(portfolio)
	_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for chunk := range slices.Chunk(u.Reached, 10_000) {
			members := make([]redis.Z, len(chunk))
			for i, r := range chunk {
				members[i] = redis.Z{Score: float64(r.At.UnixMilli()), Member: r.Recipient}
			}
			p.ZAddArgs(ctx, "wa:"+tag+":tier", redis.ZAddArgs{GT: true, Members: members})
		}
		p.SetNX(ctx, "wa:"+tag+":seeded", mark, 0)
		return nil
	})
	return err
}

// sharedReseed runs one reseed of the portfolio for all the sends that ask meanwhile. It runs
// apart from the first asker's context, which ends when that send's task does (Asynq loses every
// task when Redis loses its data): the others must not fail with it. reseedTimeout bounds it.
// A send whose check was asked before the last reseed was written skips it: on a busy machine it
// may resume only once the shared one is over, and reading a day of messages again is waste.
func (l *Limiter) sharedReseed(ctx context.Context, portfolio int64, asked time.Time) error {
	l.mu.Lock()
	done := l.reseeded[portfolio].After(asked)
	l.mu.Unlock()
	if done {
		return nil
	}
	ch := l.reseeds.DoChan(strconv.FormatInt(portfolio, 10), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reseedTimeout)
		defer cancel()
		if err := l.reseed(ctx, portfolio); err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.reseeded[portfolio] = time.Now()
		l.mu.Unlock()
		return nil, nil
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-ch:
		return r.Err
	}
}

// reseedTimeout bounds a shared reseed: a day of a portfolio's messages read from Postgres.
const reseedTimeout = 30 * time.Second

// SlowDown lowers a number's rate for a while in this process, after Meta answered 130429
// (throughput) or 131056 (pair rate): each report takes another 20 % off, down to a quarter, for
// 30 s after the last one; reports within slowDownEvery of a cut only extend it.
func (l *Limiter) SlowDown(phoneNumberID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	s, ok := l.slowdown[phoneNumberID]
	switch {
	case !ok || now.After(s.until):
		s = slowdown{factor: 0.8, cut: now}
	case now.Sub(s.cut) >= slowDownEvery:
		s.factor, s.cut = max(0.25, s.factor*0.8), now
	}
	s.until = now.Add(30 * time.Second)
	l.slowdown[phoneNumberID] = s
}

func (l *Limiter) factor(phoneNumberID string) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.slowdown[phoneNumberID]
	if !ok || time.Now().After(s.until) {
		delete(l.slowdown, phoneNumberID)
		return 1
	}
	return s.factor
}

// TierUsage is how many unique recipients a portfolio reached in the moving 24 h.
func (l *Limiter) TierUsage(ctx context.Context, portfolio int64) (int64, error) {
	key := "wa:" + portfolioTag(portfolio) + ":tier"
	now, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return 0, err
	}
	return l.rdb.ZCount(ctx, key, strconv.FormatInt(now.Add(-TierWindow).UnixMilli()+1, 10), "+inf").Result()
}

// TierFrees is when the next n slots of a portfolio's tier free, earliest first: the moving 24 h
// of its n oldest recipients ending (fewer when it counts fewer).
func (l *Limiter) TierFrees(ctx context.Context, portfolio int64, n int) ([]time.Time, error) {
	if n <= 0 {
		return nil, nil
	}
	key := "wa:" + portfolioTag(portfolio) + ":tier"
	now, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return nil, err
	}
	entries, err := l.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key, ByScore: true,
		Start: strconv.FormatInt(now.Add(-TierWindow).UnixMilli()+1, 10), Stop: "+inf", Count: int64(n)}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(entries))
	for i, e := range entries {
		out[i] = time.UnixMilli(int64(e.Score)).Add(TierWindow)
	}
	return out, nil
}

// EffectiveMPS is the rate to send at on a number: its throughput times a policy factor (1 for
// none; the account's slow-down for marketing on a YELLOW number), capped by the broadcast's rate
// cap (0 = none).
func EffectiveMPS(throughput int32, factor float64, rateCap int32) float64 {
	mps := float64(throughput) * factor
	if rateCap > 0 {
		mps = min(mps, float64(rateCap))
	}
	return max(mps, 0.1)
}

// Number is a business number the limiter keeps state for, and its portfolio.
type Number struct {
	Portfolio     int64
	PhoneNumberID string
}

// Forget removes a person's number (digits, as the limiter keys recipients) from the limiter's
// state of the given numbers and their portfolios, for an erasure. The tier keeps counting them:
// their entry becomes an anonymous one with the same time, since Meta counts the user for 24 h
// still. Their pair-rate keys, which live seconds, go.
func Forget(ctx context.Context, rdb redis.UniversalClient, numbers []Number, recipient string) error {
	for _, n := range numbers {
		tag := portfolioTag(n.Portfolio)
		if err := rdb.Del(ctx, "wa:"+tag+":pair:"+n.PhoneNumberID+":"+recipient).Err(); err != nil {
			return err
		}
		key := "wa:" + tag + ":tier"
		score, err := rdb.ZScore(ctx, key, recipient).Result()
		if errors.Is(err, redis.Nil) {
			continue // not counted, or already forgotten (another number of the portfolio)
		}
		if err != nil {
			return err
		}
		anon := "erased:" + strconv.FormatInt(rand.Int64(), 36)
		if _, err := rdb.TxPipelined(ctx, func(tx redis.Pipeliner) error {
			tx.ZAdd(ctx, key, redis.Z{Score: score, Member: anon})
			tx.ZRem(ctx, key, recipient)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
