package metasim

import (
	"maps"
	"sort"
	"time"
)

// Record is one send request as the simulator saw it.
type Record struct {
	At            time.Time `json:"at"` // wall clock
	PhoneNumberID string    `json:"phone_number_id"`
	To            string    `json:"to"` // digits only
	Type          string    `json:"type"`
	Template      string    `json:"template,omitempty"`
	Language      string    `json:"language,omitempty"`
	Category      string    `json:"category,omitempty"`
	Callback      string    `json:"biz_opaque_callback_data,omitempty"`
	WAMID         string    `json:"wamid,omitempty"`        // set when Meta took the message
	Code          int       `json:"code,omitempty"`         // the error answered at once, 0 when accepted
	FailCode      int       `json:"fail_code,omitempty"`    // accepted, then failed with this code
	SentFirst     bool      `json:"sent_first,omitempty"`   // with FailCode: "sent" came before "failed"
	Read          bool      `json:"read,omitempty"`         // delivered and read
	Fault         string    `json:"fault,omitempty"`        // server_error, rate_limited, slow, timeout
	BodyParams    []string  `json:"body_params,omitempty"`  // the text of the template body's parameters
	HeaderMedia   string    `json:"header_media,omitempty"` // a media header's "id:…" or "link:…"
	// MarketingMessages: it came through POST /{id}/marketing_messages and the Marketing Messages
	// API took it (one that fell back to Cloud API, as product_policy allows, is not).
	MarketingMessages bool `json:"marketing_messages,omitempty"`
}

// Accepted tells whether Meta took the message (a later failure may still follow).
func (r Record) Accepted() bool { return r.WAMID != "" }

type counters struct {
	requests     int
	accepted     int
	refused      map[int]int // by error code answered at once, faults aside
	injected     map[string]int
	failed       map[int]int // by error code of a failed status
	tierBreaches int
	uploads      int
	perNumber    map[string]*NumberCounts
	perTemplate  map[string]int
	perRecipient map[string]int
	// repeats lists, once each, the recipients who got more than one message, kept as they come:
	// tests read the counters every few milliseconds, and a walk of perRecipient under the lock
	// (200,000 entries in the benchmarks) stalled every send meanwhile.
	repeats []string
}

func newCounters() counters {
	return counters{refused: map[int]int{}, injected: map[string]int{}, failed: map[int]int{}, perNumber: map[string]*NumberCounts{},
		perTemplate: map[string]int{}, perRecipient: map[string]int{}}
}

// NumberCounts are one number's counters.
type NumberCounts struct {
	Accepted         int `json:"accepted"`
	Throttled        int `json:"throttled"`         // refused with 130429
	MaxPerSecond     int `json:"max_per_second"`    // most sends accepted in one wall-clock second
	SecondsThrottled int `json:"seconds_throttled"` // seconds in which a send was refused for throughput
}

// Counters summarize what the simulator received.
type Counters struct {
	Requests         int                     `json:"requests"`
	Accepted         int                     `json:"accepted"`
	RefusedByCode    map[int]int             `json:"refused_by_code"` // the simulator's checks; injected faults are apart
	Injected         map[string]int          `json:"injected"`        // requests answered with an injected fault, by fault
	FailedByCode     map[int]int             `json:"failed_by_code"`
	TierBreaches     int                     `json:"tier_breaches"` // sends refused because a portfolio's tier was full
	MediaUploads     int                     `json:"media_uploads"` // files taken by POST /{phone-number-id}/media
	PerNumber        map[string]NumberCounts `json:"per_number"`
	PerTemplate      map[string]int          `json:"per_template"`
	UniqueRecipients int                     `json:"unique_recipients"`
	RepeatRecipients []string                `json:"repeat_recipients"` // recipients sent more than one accepted message
	WebhooksPosted   int                     `json:"webhooks_posted"`
	WebhookFailures  int                     `json:"webhook_failures"`
	WebhooksPending  int                     `json:"webhooks_pending"`
}

func (s *Sim) record(r Record, n *number) {
	s.records = append(s.records, r)
	c := &s.counters
	c.requests++
	if _, ok := injected[r.Fault]; ok {
		c.injected[r.Fault]++
		return
	}
	if !r.Accepted() {
		c.refused[r.Code]++
		if r.Code == codeThroughput && n != nil {
			nc := c.number(n.PhoneNumberID)
			nc.Throttled++
		}
		return
	}
	c.accepted++
	c.perTemplate[r.Template]++
	c.perRecipient[r.To]++
	if c.perRecipient[r.To] == 2 {
		c.repeats = append(c.repeats, r.To)
	}
	if r.FailCode != 0 {
		c.failed[r.FailCode]++
	}
	if n != nil {
		nc := c.number(n.PhoneNumberID)
		nc.Accepted++
		nc.MaxPerSecond = max(nc.MaxPerSecond, n.inSecond)
	}
}

func (c *counters) number(id string) *NumberCounts {
	nc, ok := c.perNumber[id]
	if !ok {
		nc = &NumberCounts{}
		c.perNumber[id] = nc
	}
	return nc
}

// Counters returns a snapshot.
func (s *Sim) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	out := Counters{Requests: c.requests, Accepted: c.accepted, RefusedByCode: maps.Clone(c.refused), Injected: maps.Clone(c.injected),
		FailedByCode: maps.Clone(c.failed), TierBreaches: c.tierBreaches, MediaUploads: c.uploads, PerTemplate: maps.Clone(c.perTemplate),
		PerNumber: map[string]NumberCounts{}, UniqueRecipients: len(c.perRecipient), RepeatRecipients: append([]string{}, c.repeats...)}
	for id, nc := range c.perNumber {
		out.PerNumber[id] = *nc
	}
	sort.Strings(out.RepeatRecipients)
	out.WebhooksPosted, out.WebhookFailures, out.WebhooksPending = s.hooks.stats()
	return out
}

// Records returns the requests received from index since on; with to set, only those to that
// recipient (any formatting of the number).
func (s *Sim) Records(since int, to string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Record{}
	if since < 0 || since >= len(s.records) {
		return out
	}
	to = digits(to)
	for _, r := range s.records[since:] {
		if to == "" || r.To == to {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets every record and counter (numbers, templates and limits stay).
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = nil
	s.counters = newCounters()
}
