// Package ratelimit holds Meta's limits for every worker process at once: throughput per number
// (a GCRA in Redis shared by all workers, with a per-process pacer in front), unique recipients per
// moving 24 h per business portfolio (a sorted set, checked and added atomically), and the pair
// rate per number and recipient (a key with an expiry).
package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Reasons a send must wait.
const (
	ReasonThroughput = "throughput"
	ReasonTier       = "tier"
	ReasonPair       = "pair"
)

// Safety keeps the shared rate a little under the number's limit: sends admitted evenly still
// reach Meta with jitter, and Meta counts per second.
const Safety = 0.98

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
}

// Decision says whether the send may go now, and if not, why and for how long to wait.
type Decision struct {
	Allowed    bool
	Reason     string
	RetryAfter time.Duration
}

// Limiter checks sends against Redis. It is safe for concurrent use.
type Limiter struct {
	rdb      redis.UniversalClient
	gcra     *redis_rate.Limiter
	pair     time.Duration
	maxWait  time.Duration
	mu       sync.Mutex
	pacers   map[string]*rate.Limiter
	slowdown map[string]slowdown
}

type slowdown struct {
	factor float64
	until  time.Time
}

// New makes a limiter. pairInterval is the least time between two messages from one number to
// one user (Meta: about 6 s); maxWait is how long Acquire may sleep for throughput before it
// answers "wait" instead.
func New(rdb redis.UniversalClient, pairInterval, maxWait time.Duration) *Limiter {
	return &Limiter{rdb: rdb, gcra: redis_rate.NewLimiter(rdb), pair: pairInterval, maxWait: maxWait,
		pacers: map[string]*rate.Limiter{}, slowdown: map[string]slowdown{}}
}

//go:embed admit.lua
var admitLua string

var admitScript = redis.NewScript(admitLua)

// Acquire decides one send: throughput first (so a send refused for pair or tier wastes at most
// one token), then pair rate and tier together in one atomic script.
func (l *Limiter) Acquire(ctx context.Context, s Send) (Decision, error) {
	ceiling := s.MPS * l.factor(s.PhoneNumberID)
	if err := l.pacer(s.PhoneNumberID, ceiling*Safety).Wait(ctx); err != nil {
		return Decision{}, err
	}
	for {
		res, err := l.gcra.Allow(ctx, "wa:mps:"+s.PhoneNumberID, gcraLimit(ceiling))
		if err != nil {
			return Decision{}, fmt.Errorf("throughput limit: %w", err)
		}
		if res.Allowed > 0 {
			break
		}
		if res.RetryAfter > l.maxWait {
			return Decision{Reason: ReasonThroughput, RetryAfter: res.RetryAfter}, nil
		}
		select {
		case <-ctx.Done():
			return Decision{}, ctx.Err()
		case <-time.After(res.RetryAfter):
		}
	}
	return l.admit(ctx, s)
}

// gcraLimit spaces sends at Safety × the ceiling. The burst takes up the rest of the ceiling but
// one, so no second sees more than ceiling - 1 admissions (rate + burst - 1) and one send's worth
// of network jitter still stays under the ceiling; and a sender that wakes a little late does not
// lose its slot (with a burst of one, every late wake-up would push all later slots back).
func gcraLimit(ceiling float64) redis_rate.Limit {
	period := time.Second
	if ceiling < 10 { // redis_rate counts whole events per period
		ceiling, period = ceiling*10, 10*time.Second
	}
	rate := max(1, int(ceiling*Safety))
	return redis_rate.Limit{Rate: rate, Burst: max(1, int(ceiling)-rate), Period: period}
}

func (l *Limiter) admit(ctx context.Context, s Send) (Decision, error) {
	tag := "{p" + strconv.FormatInt(s.Portfolio, 10) + "}" // one cluster slot for a portfolio's keys
	keys := []string{"wa:" + tag + ":pair:" + s.PhoneNumberID + ":" + s.Recipient, "wa:" + tag + ":tier"}
	inWindow := "0"
	if s.InServiceWindow {
		inWindow = "1"
	}
	v, err := admitScript.Run(ctx, l.rdb, keys, l.pair.Milliseconds(), s.Tier, TierWindow.Milliseconds(), s.Recipient, inWindow).Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("pair and tier limits: %w", err)
	}
	if v[0].(int64) == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{Reason: v[1].(string), RetryAfter: time.Duration(v[2].(int64)) * time.Millisecond}, nil
}

// pacer spaces this process's sends on a number, so the shared limit is met smoothly instead of
// by refusals.
func (l *Limiter) pacer(phoneNumberID string, mps float64) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pacers[phoneNumberID]
	if !ok {
		p = rate.NewLimiter(rate.Limit(mps), 1)
		l.pacers[phoneNumberID] = p
	} else if p.Limit() != rate.Limit(mps) {
		p.SetLimit(rate.Limit(mps))
	}
	return p
}

// SlowDown lowers a number's rate for a while in this process, after Meta answered 130429
// (throughput) or 131056 (pair rate): each report takes another 20 % off, down to a quarter, for
// 30 s after the last one.
func (l *Limiter) SlowDown(phoneNumberID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := 1.0
	if s, ok := l.slowdown[phoneNumberID]; ok && time.Now().Before(s.until) {
		f = s.factor
	}
	l.slowdown[phoneNumberID] = slowdown{factor: max(0.25, f*0.8), until: time.Now().Add(30 * time.Second)}
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
	key := "wa:{p" + strconv.FormatInt(portfolio, 10) + "}:tier"
	now, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return 0, err
	}
	return l.rdb.ZCount(ctx, key, strconv.FormatInt(now.Add(-TierWindow).UnixMilli()+1, 10), "+inf").Result()
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
