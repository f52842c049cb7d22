// Package metasim is a simulator of Meta's WhatsApp Cloud API for demos, tests and benchmarks. It
// serves the send and phone-number endpoints, checks requests as Meta does, enforces Meta's limits
// with Meta's error codes, injects faults, posts signed status webhooks back, and records every
// request so a test can assert on what Meta would have seen.
package metasim

import (
	"time"

	"github.com/dripcast/dripcast/whatsapp"
)

// Config sets the simulator's behaviour. Durations marked "sim" are in simulated time, which runs
// TimeScale times faster than the wall clock (a pair-rate interval of 6 s passes in 60 ms at a
// scale of 100). Throughput is always counted over any sliding wall-clock second.
type Config struct {
	DefaultMPS   int           // throughput of a number registered without one (Meta: 80)
	DefaultTier  int           // unique recipients per moving 24 h per portfolio; 0 = unlimited
	PairInterval time.Duration // sim: least time between two messages to one user; 0 = off
	MarketingCap int           // marketing templates one user gets per moving 24 h; 0 = no cap
	TimeScale    float64       // sim seconds per wall-clock second; 0 means 1

	WebhookURL     string        // where statuses and events are posted; "" = none
	WebhookSecret  string        // app secret for numbers registered without one
	SentDelay      time.Duration // sim: send → "sent"
	DeliveredDelay time.Duration // sim: send → "delivered" (or "failed")
	ReadDelay      time.Duration // sim: send → "read"
	ReadShare      float64       // share of delivered messages that are read
	FailShare      float64       // share of sent messages that then fail to deliver (131026)
	DropDelivered  float64       // share of read messages whose "delivered" is never posted
	DuplicateShare float64       // share of status webhooks posted twice
	LoseShare      float64       // share of status webhooks never posted (Meta gave up on them)
	LateShare      float64       // share of status webhooks posted LateDelay late
	LateDelay      time.Duration // wall clock: how late (Meta holds webhooks for minutes when an endpoint struggles)
	Shuffle        bool          // post each message's statuses in random order (without it, order is likely but not certain, as with Meta)
	WebhookBatch   int           // statuses per POST, at most (Meta batches too); 0 means 100

	Faults Faults

	NotOnWhatsApp    []string // recipients whose messages fail with 131026
	StoppedMarketing []string // recipients whose marketing messages fail with 131050
	// FailFirst: recipients whose first message Meta takes and then fails to deliver, with this
	// code (131000: unreachable for now; 131049: the per-user marketing cap); later ones deliver.
	FailFirst map[string]int
	Seed      int64 // for the random choices; 0 = time-based
}

// Faults are injected per request at these rates (0 to 1).
type Faults struct {
	ServerError float64       `json:"server_error"` // answer 500 (code 131000) without sending
	RateLimited float64       `json:"rate_limited"` // answer 130429 without sending, whatever the pace
	Slow        float64       `json:"slow"`         // answer after SlowDelay
	Timeout     float64       `json:"timeout"`      // send, then never answer (the client times out)
	SlowDelay   time.Duration `json:"slow_delay"`
}

// Number is a business phone number the simulator serves.
type Number struct {
	PhoneNumberID string `json:"phone_number_id"`
	WABAID        string `json:"waba_id"`
	DisplayNumber string `json:"display_number"`
	Token         string `json:"token"`      // the bearer token it accepts
	AppSecret     string `json:"app_secret"` // signs its webhooks; Config.WebhookSecret when empty
	Portfolio     string `json:"portfolio"`  // numbers of one portfolio share its tier
	MPS           int    `json:"mps"`        // Config.DefaultMPS when 0
	Quality       string `json:"quality"`    // GREEN when empty
	// MarketingMessages: the business accepted the Marketing Messages API's terms, so the number
	// may send marketing templates through POST /{id}/marketing_messages.
	MarketingMessages bool `json:"marketing_messages"`
}

// Template is a template the simulator knows. Params holds the parameter count of each component
// ("header", "body", "button.0", …); a component not listed takes none.
type Template struct {
	Name     string         `json:"name"`
	Language string         `json:"language"`
	Category string         `json:"category"` // marketing, utility, authentication
	Status   string         `json:"status"`   // APPROVED when empty; PAUSED and DISABLED refuse sends
	Quality  string         `json:"quality"`  // Meta's quality score; UNKNOWN when empty
	Header   string         `json:"header"`   // TEXT (when empty), IMAGE, VIDEO, DOCUMENT or LOCATION; Components' header wins
	Params   map[string]int `json:"params"`
	// Components are what GET /{waba-id}/message_templates lists, in Meta's form (they must
	// agree with Params); when empty, a body (and header, URL buttons) with Params' placeholders.
	Components []whatsapp.TemplateComponent `json:"components,omitempty"`
}
