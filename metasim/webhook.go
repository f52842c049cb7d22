package metasim

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dripcast/dripcast/whatsapp"
)

// hook is one webhook item: a message status (batched with others of its number) or a change of
// another kind (posted alone).
type hook struct {
	due     time.Time // wall clock
	number  *Number
	status  *whatsapp.Status
	field   string
	value   any
	attempt int
}

// scheduleStatuses plans the statuses of an accepted message (called with s.mu held).
func (s *Sim) scheduleStatuses(n *number, rec Record, now time.Time) {
	if s.hooks.url == "" {
		return
	}
	type planned struct {
		status string
		delay  time.Duration
		code   int
	}
	var plan []planned
	switch {
	case rec.SentFirst:
		plan = []planned{{"sent", s.cfg.SentDelay, 0}, {"failed", s.cfg.DeliveredDelay, rec.FailCode}}
	case rec.FailCode != 0:
		plan = []planned{{"failed", s.cfg.SentDelay, rec.FailCode}}
	default:
		plan = []planned{{"sent", s.cfg.SentDelay, 0}}
		if !rec.Read || s.rng.Float64() >= s.cfg.DropDelivered {
			plan = append(plan, planned{"delivered", s.cfg.DeliveredDelay, 0})
		}
		if rec.Read {
			plan = append(plan, planned{"read", s.cfg.ReadDelay, 0})
		}
	}
	if s.cfg.Shuffle {
		s.rng.Shuffle(len(plan), func(i, j int) { plan[i].delay, plan[j].delay = plan[j].delay, plan[i].delay })
	}
	wallNow := time.Now()
	for _, p := range plan {
		st := &whatsapp.Status{ID: rec.WAMID, Status: p.status, RecipientID: rec.To, BizOpaqueCallbackData: rec.Callback,
			Timestamp: strconv.FormatInt(now.Add(p.delay).Unix(), 10)}
		if p.code != 0 {
			st.Errors = []whatsapp.WebhookError{{Code: p.code, Title: failTitle(p.code), Message: failTitle(p.code)}}
		} else if p.status != "read" {
			category := rec.Category
			if rec.MarketingMessages {
				category = "marketing_lite" // Meta's category for the Marketing Messages API's sends
			}
			if category == "" {
				category = "service"
			}
			st.Pricing = &whatsapp.Pricing{Billable: true, PricingModel: "PMP", Type: "regular", Category: category}
		}
		if s.rng.Float64() < s.cfg.LoseShare {
			continue
		}
		due := wallNow.Add(s.wall(p.delay))
		if s.rng.Float64() < s.cfg.LateShare {
			due = due.Add(s.cfg.LateDelay)
		}
		s.hooks.push(&hook{due: due, number: &n.Number, status: st})
		if s.rng.Float64() < s.cfg.DuplicateShare {
			s.hooks.push(&hook{due: due.Add(5 * time.Millisecond), number: &n.Number, status: st})
		}
	}
}

func failTitle(code int) string {
	switch code {
	case codeUndeliverable:
		return "Message undeliverable"
	case codeStoppedMarketing:
		return "User's number is part of an experiment or stopped marketing messages"
	case codeMarketingCap:
		return "Message not delivered to maintain healthy ecosystem engagement"
	case codeReengagement:
		return "Re-engagement message"
	case codeSomethingWrong:
		return "Something went wrong"
	}
	return "Message failed to send"
}

// dispatcher posts hooks when they fall due, batching statuses, retrying failed posts.
type dispatcher struct {
	url    string
	batch  int
	client *http.Client

	mu       sync.Mutex
	queue    hookHeap
	inFlight int
	posted   int
	statuses map[string][]string // message id → statuses posted, in order
	failures int
	held     bool // nothing is posted (HoldWebhooks): Dripcast's endpoint unreachable, as Meta sees it
	wake     chan struct{}
	done     chan struct{}
	work     chan []*hook
	wg       sync.WaitGroup
}

func newDispatcher(url string, batch int) *dispatcher {
	d := &dispatcher{url: url, batch: batch, client: &http.Client{Timeout: 10 * time.Second},
		statuses: map[string][]string{}, wake: make(chan struct{}, 1), done: make(chan struct{}), work: make(chan []*hook, 16)}
	if url == "" {
		return d
	}
	d.wg.Add(1)
	go d.loop()
	for range 4 {
		d.wg.Add(1)
		go d.poster()
	}
	return d
}

func (d *dispatcher) push(h *hook) {
	if d.url == "" {
		return
	}
	d.mu.Lock()
	heap.Push(&d.queue, h)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// HoldWebhooks stops posting webhooks (held) or starts again: Meta keeps what it could not post
// while Dripcast's endpoint is unreachable, and posts it when it is back.
func (s *Sim) HoldWebhooks(held bool) {
	s.hooks.mu.Lock()
	s.hooks.held = held
	s.hooks.mu.Unlock()
}

// Posted gives, for each message id, the statuses the simulator's webhooks delivered (a 2xx
// answer), in the order they were posted.
func (s *Sim) Posted() map[string][]string {
	d := s.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string][]string, len(d.statuses))
	for id, st := range d.statuses {
		out[id] = slices.Clone(st)
	}
	return out
}

func (d *dispatcher) stats() (posted, failures, pending int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.posted, d.failures, len(d.queue) + d.inFlight
}

func (d *dispatcher) close() {
	if d.url == "" {
		return
	}
	close(d.done)
	d.wg.Wait()
}

// loop takes due hooks off the queue in batches: statuses of one number together.
func (d *dispatcher) loop() {
	defer d.wg.Done()
	defer close(d.work)
	timer := time.NewTimer(time.Hour)
	for {
		batches, next := d.due(time.Now())
		for _, b := range batches {
			select {
			case d.work <- b:
			case <-d.done:
				return
			}
		}
		if len(batches) > 0 {
			continue
		}
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-d.wake:
		case <-d.done:
			return
		}
	}
}

func (d *dispatcher) due(now time.Time) ([][]*hook, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held {
		return nil, 50 * time.Millisecond
	}
	byNumber := map[string][]*hook{}
	var batches [][]*hook
	for len(d.queue) > 0 && !d.queue[0].due.After(now) && len(batches) < 64 {
		h := heap.Pop(&d.queue).(*hook)
		d.inFlight++
		if h.status == nil {
			batches = append(batches, []*hook{h})
			continue
		}
		id := h.number.PhoneNumberID
		byNumber[id] = append(byNumber[id], h)
		if len(byNumber[id]) == d.batch {
			batches = append(batches, byNumber[id])
			delete(byNumber, id)
		}
	}
	for _, b := range byNumber {
		batches = append(batches, b)
	}
	next := 50 * time.Millisecond
	if len(d.queue) > 0 {
		next = min(next, max(time.Millisecond, d.queue[0].due.Sub(now)))
	}
	return batches, next
}

func (d *dispatcher) poster() {
	defer d.wg.Done()
	for b := range d.work {
		err := d.post(b)
		d.mu.Lock()
		d.inFlight -= len(b)
		if err == nil {
			d.posted += len(b)
			for _, h := range b {
				if h.status != nil {
					d.statuses[h.status.ID] = append(d.statuses[h.status.ID], h.status.Status)
				}
			}
		} else {
			d.failures++
			for _, h := range b {
				if h.attempt < 8 { // Meta retries for days; a test needs a few tries
					h.attempt++
					h.due = time.Now().Add(time.Duration(1<<h.attempt) * 100 * time.Millisecond)
					heap.Push(&d.queue, h)
				}
			}
		}
		d.mu.Unlock()
	}
}

// post sends one batch, signed with its number's app secret.
func (d *dispatcher) post(b []*hook) error {
	n := b[0].number
	var value any = b[0].value
	field := b[0].field
	if b[0].status != nil {
		statuses := make([]whatsapp.Status, len(b))
		for i, h := range b {
			statuses[i] = *h.status
		}
		field = whatsapp.FieldMessages
		value = whatsapp.MessagesValue{MessagingProduct: "whatsapp", Statuses: statuses,
			Metadata: whatsapp.Metadata{DisplayPhoneNumber: digits(n.DisplayNumber), PhoneNumberID: n.PhoneNumberID}}
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	body, err := json.Marshal(whatsapp.Notification{Object: "whatsapp_business_account",
		Entry: []whatsapp.Entry{{ID: n.WABAID, Time: time.Now().Unix(), Changes: []whatsapp.Change{{Field: field, Value: raw}}}}})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(body, n.AppSecret))
	res, err := d.client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", res.Status)
	}
	return nil
}

type hookHeap []*hook

func (h hookHeap) Len() int           { return len(h) }
func (h hookHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h hookHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hookHeap) Push(x any)        { *h = append(*h, x.(*hook)) }
func (h *hookHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// PostStatuses posts statuses of a registered number through the webhook dispatcher at once
// (batched, signed, retried like any other): for benchmarks of webhook handling.
func (s *Sim) PostStatuses(phoneNumberID string, statuses []whatsapp.Status) error {
	s.mu.Lock()
	n, ok := s.numbers[phoneNumberID]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("unknown number %s", phoneNumberID)
	}
	now := time.Now()
	for i := range statuses {
		s.hooks.push(&hook{due: now, number: &n.Number, status: &statuses[i]})
	}
	return nil
}
