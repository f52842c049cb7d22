package api

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// buckets holds one token bucket per key (an API key, a caller's address), in this process.
type buckets[K comparable] struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	byKey map[K]*rate.Limiter
}

// maxBuckets bounds the memory of the per-address buckets: past it they start again empty.
const maxBuckets = 100_000

func newBuckets[K comparable](r rate.Limit, burst int) *buckets[K] {
	return &buckets[K]{rate: r, burst: burst, byKey: map[K]*rate.Limiter{}}
}

func (b *buckets[K]) of(key K) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim, ok := b.byKey[key]
	if !ok {
		if len(b.byKey) >= maxBuckets {
			b.byKey = map[K]*rate.Limiter{}
		}
		lim = rate.NewLimiter(b.rate, b.burst)
		b.byKey[key] = lim
	}
	return lim
}

// allow takes a token of the key's bucket, or answers 429 with when to try again.
func (b *buckets[K]) allow(w http.ResponseWriter, key K, what string) error {
	if b.rate <= 0 {
		return nil
	}
	res := b.of(key).Reserve()
	if delay := res.Delay(); delay > 0 {
		res.Cancel()
		return tooMany(w, delay, what)
	}
	return nil
}

// left refuses a key whose bucket is empty, without taking a token.
func (b *buckets[K]) left(w http.ResponseWriter, key K, what string) error {
	if b.rate <= 0 {
		return nil
	}
	lim := b.of(key)
	if tokens := lim.Tokens(); tokens < 1 {
		return tooMany(w, time.Duration((1-tokens)/float64(b.rate)*float64(time.Second)), what)
	}
	return nil
}

// take spends a token of the key's bucket (going into debt is fine: the key waits longer).
func (b *buckets[K]) take(key K) {
	if b.rate > 0 {
		b.of(key).ReserveN(time.Now(), 1)
	}
}

func tooMany(w http.ResponseWriter, delay time.Duration, what string) error {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(delay.Seconds())))))
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: "too many requests " + what + "; slow down and retry after the Retry-After seconds"}
}

// The unauthenticated routes (Meta's webhook, integration hooks) must receive their body within
// Options.HookReadTimeout (15 s); an address whose attempts keep failing is refused for a while.
// Only failures cost a token, so Meta's genuine deliveries are never slowed by it.
type addrLimits = buckets[netip.Addr]

// guardHook wraps an unauthenticated route with those limits.
func (s *Server) guardHook(next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.HookReadTimeout))
		ip := s.clientIP(r)
		if err := s.hookFailures.left(w, ip, "that failed from your address"); err != nil {
			return err
		}
		err := next(w, r)
		if apiErr, ok := err.(*Error); ok && apiErr.Status >= 400 && apiErr.Status < 500 {
			s.hookFailures.take(ip)
		}
		return err
	}
}
