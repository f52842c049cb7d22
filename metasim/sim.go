package metasim

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sim is one simulated Cloud API.
type Sim struct {
	cfg   Config
	start time.Time // wall clock at start; sim time runs from here at cfg.TimeScale

	mu         sync.Mutex
	rng        *rand.Rand
	faults     Faults
	numbers    map[string]*number
	templates  map[string]*Template // name + "/" + language
	portfolios map[string]*portfolio
	lastPair   map[string]time.Time   // phone number id + "/" + recipient → last send (sim)
	marketing  map[string][]time.Time // recipient → marketing sends in the last 24 h (sim)
	inboundAt  map[string]time.Time   // recipient → last inbound message (sim): the service window
	notOnWA    map[string]bool
	failedOnce map[string]bool // FailFirst's recipients whose first message failed
	stopped    map[string]bool
	uploads    map[string]upload // media id → the file a number uploaded
	records    []Record
	counters   counters
	seq        uint64

	hooks *dispatcher
}

type number struct {
	Number
	recent    []int64 // Unix nanoseconds of the sends accepted in the last two seconds, in order
	inSecond  int     // sends accepted in the wall-clock second of the one accepted last, for MaxPerSecond
	throttled int64   // the last second in which a send was refused for throughput
}

// portfolio counts unique recipients in a moving 24 h window (sim time).
type portfolio struct {
	limit int
	seen  map[string]time.Time
	order []seenAt // in time order, to expire old entries
}

type seenAt struct {
	to string
	at time.Time
}

// New makes a simulator; Close stops its webhook poster.
func New(cfg Config) *Sim {
	if cfg.DefaultMPS == 0 {
		cfg.DefaultMPS = 80
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.WebhookBatch <= 0 {
		cfg.WebhookBatch = 100
	}
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s := &Sim{cfg: cfg, start: time.Now(), rng: rand.New(rand.NewPCG(seed, seed>>1|1)), faults: cfg.Faults,
		numbers: map[string]*number{}, templates: map[string]*Template{}, portfolios: map[string]*portfolio{},
		lastPair: map[string]time.Time{}, marketing: map[string][]time.Time{}, inboundAt: map[string]time.Time{},
		uploads: map[string]upload{}, notOnWA: set(cfg.NotOnWhatsApp), failedOnce: map[string]bool{}, stopped: set(cfg.StoppedMarketing), counters: newCounters()}
	s.hooks = newDispatcher(cfg.WebhookURL, cfg.WebhookBatch)
	return s
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, p := range list {
		m[digits(p)] = true
	}
	return m
}

// digits is a phone number as WhatsApp ids write it: digits only.
func digits(p string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, p)
}

// Close stops posting webhooks; queued ones are dropped.
func (s *Sim) Close() { s.hooks.close() }

// now is the simulated time.
func (s *Sim) now() time.Time {
	return s.start.Add(time.Duration(float64(time.Since(s.start)) * s.cfg.TimeScale))
}

// wall turns a simulated delay into a wall-clock one.
func (s *Sim) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.cfg.TimeScale)
}

// AddNumber registers (or replaces) a business number.
func (s *Sim) AddNumber(n Number) {
	if n.MPS == 0 {
		n.MPS = s.cfg.DefaultMPS
	}
	if n.Quality == "" {
		n.Quality = "GREEN"
	}
	if n.AppSecret == "" {
		n.AppSecret = s.cfg.WebhookSecret
	}
	if n.Portfolio == "" {
		n.Portfolio = n.WABAID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers[n.PhoneNumberID] = &number{Number: n}
	if _, ok := s.portfolios[n.Portfolio]; !ok {
		s.portfolios[n.Portfolio] = &portfolio{limit: s.cfg.DefaultTier, seen: map[string]time.Time{}}
	}
}

// SetMPS moves a number to another throughput (1,000 or more: Meta's HIGH level).
func (s *Sim) SetMPS(phoneNumberID string, mps int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.numbers[phoneNumberID]; ok {
		n.MPS = mps
	}
}

// SetTier sets a portfolio's limit of unique recipients per moving 24 h (0 = unlimited).
func (s *Sim) SetTier(portfolioID string, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.portfolios[portfolioID]
	if !ok {
		p = &portfolio{seen: map[string]time.Time{}}
		s.portfolios[portfolioID] = p
	}
	p.limit = limit
}

// AddTemplate registers (or replaces) a template.
func (s *Sim) AddTemplate(t Template) {
	if t.Status == "" {
		t.Status = "APPROVED"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates[t.Name+"/"+t.Language] = &t
}

// SetFaults changes the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// newWAMID makes a message id in Meta's shape.
func (s *Sim) newWAMID() string {
	s.seq++
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, s.seq)
	binary.BigEndian.PutUint64(b[8:], s.rng.Uint64())
	return "wamid." + base64.RawURLEncoding.EncodeToString(b)
}

// admitThroughput counts throughput over any sliding second, the strictest reading of Meta's
// "messages per second": a send that arrived at `at` is refused when a second holding it would
// hold more than MPS accepted sends. Sends take the lock in another order than they arrived
// (arrivals are the kernel's, see Stamp), so a late-locked send can fill a second that later
// sends were already counted in: every second holding it is checked, not only the one ending at it.
func (n *number) admitThroughput(at time.Time) bool {
	t := at.UnixNano()
	if l := len(n.recent); l > 0 { // forget what no second holding a new send can reach
		cut := n.recent[l-1] - 2*int64(time.Second)
		n.recent = n.recent[sort.Search(l, func(k int) bool { return n.recent[k] >= cut }):]
	}
	i := sort.Search(len(n.recent), func(k int) bool { return n.recent[k] > t }) // t's place
	lo := sort.Search(i, func(k int) bool { return n.recent[k] > t-int64(time.Second) })
	// The seconds holding t start at t or at an accepted send less than a second before it;
	// the one starting at recent[k] holds recent[k:j] and t.
	for k, j := lo, i; k <= i; k++ {
		start := t
		if k < i {
			start = n.recent[k]
		}
		for j < len(n.recent) && n.recent[j] < start+int64(time.Second) {
			j++
		}
		if j-k+1 > n.MPS {
			n.throttled = at.Unix()
			return false
		}
	}
	n.recent = slices.Insert(n.recent, i, t)
	sec := at.Truncate(time.Second).UnixNano() // counted from the sends themselves: they come out of order
	n.inSecond = sort.Search(len(n.recent), func(k int) bool { return n.recent[k] >= sec+int64(time.Second) }) -
		sort.Search(len(n.recent), func(k int) bool { return n.recent[k] >= sec })
	return true
}

// admitTier counts a recipient against the portfolio's moving 24 h; users who wrote to the
// business in the last 24 h do not count.
func (p *portfolio) admitTier(to string, now time.Time, inWindow bool) bool {
	cut := now.Add(-24 * time.Hour)
	for len(p.order) > 0 && !p.order[0].at.After(cut) {
		e := p.order[0]
		if t, ok := p.seen[e.to]; ok && t.Equal(e.at) {
			delete(p.seen, e.to)
		}
		p.order = p.order[1:]
	}
	if _, ok := p.seen[to]; ok || inWindow {
		return true
	}
	if p.limit > 0 && len(p.seen) >= p.limit {
		return false
	}
	p.seen[to] = now
	p.order = append(p.order, seenAt{to, now})
	return true
}

// admitMarketing applies the per-user marketing cap over a moving 24 h.
func (s *Sim) admitMarketing(to string, now time.Time) bool {
	if s.cfg.MarketingCap <= 0 {
		return true
	}
	cut := now.Add(-24 * time.Hour)
	kept := s.marketing[to][:0]
	for _, t := range s.marketing[to] {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	if len(kept) >= s.cfg.MarketingCap {
		s.marketing[to] = kept
		return false
	}
	s.marketing[to] = append(kept, now)
	return true
}

func (s *Sim) inWindow(to string, now time.Time) bool {
	t, ok := s.inboundAt[to]
	return ok && now.Sub(t) < 24*time.Hour
}
