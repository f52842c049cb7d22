package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/scheduler"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// Redis wiped mid-broadcast: the tasks of queued messages are gone, Postgres still has the rows,
// and recovery feeds them again. Nothing is lost and nothing is sent twice.
func TestRedisWipedMidBroadcast(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{TimeScale: 100}, 1000)
	s.jobs.LostAfter = 2 * time.Second
	channel, template := s.setup("unlimited")
	importContacts(t, s, 1500, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "rate_cap": 150}, 201)
	id := int64(b["id"].(float64))
	testenv.Eventually(t, "sending", 20*time.Second, func() bool { return s.sim.Counters().Accepted > 200 })
	if err := s.rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "completed", 60*time.Second, func() bool { return s.status(id) == "completed" })
	c := s.sim.Counters()
	if c.Accepted != 1500 || c.UniqueRecipients != 1500 || len(c.RepeatRecipients) != 0 {
		t.Fatalf("after the wipe: %d sends to %d recipients, %d repeated", c.Accepted, c.UniqueRecipients, len(c.RepeatRecipients))
	}
}

// A worker that died mid-send leaves its message in sending: it becomes unknown, is never sent
// again, and the status webhook that carries its id settles it.
func TestStuckSendingBecomesUnknownThenSettles(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{}, 1000)
	s.jobs.SendingTimeout = time.Second
	channel, template := s.setup("unlimited")
	importContacts(t, s, 1, utc)
	ctx := context.Background()
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "b", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "draft": true}, 201)
	id := int64(b["id"].(float64))
	var msg int64
	err := s.pool.QueryRow(ctx, `INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, sending_at)
		SELECT account_id, $1, id, $2, $3, 'sending', now(), now() - interval '1 minute' FROM contacts RETURNING id`, channel, template, id).Scan(&msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.jobs.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		var st string
		_ = s.pool.QueryRow(ctx, "SELECT status::text || ' ' || COALESCE(reason, '') FROM messages WHERE id = $1", msg).Scan(&st)
		return st
	}
	if st := state(); st != "unknown worker_lost" {
		t.Fatalf("after recovery: %s", st)
	}
	time.Sleep(500 * time.Millisecond)
	if n := s.sim.Counters().Accepted; n != 0 {
		t.Fatalf("an unknown message was sent again (%d sends)", n)
	}
	body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":`+
		`{"metadata":{"phone_number_id":%q},"statuses":[{"id":"wamid.Z","status":"delivered","timestamp":"%d","biz_opaque_callback_data":"%d"}]}}]}]}`,
		wabaID, phoneNumberID, time.Now().Unix(), msg)
	req, _ := http.NewRequest("POST", s.api+"/webhooks/whatsapp", strings.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(body), appSecret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the status webhook: %s", res.Status)
	}
	if st := state(); st != "delivered worker_lost" {
		t.Fatalf("after the status webhook: %s", st)
	}
}

// The periodic refresh reads quality, throughput level and messaging limit from Meta.
func TestRefreshFromMeta(t *testing.T) {
	t.Parallel() // counts no sends per second
	s := newStack(t, metasim.Config{DefaultTier: 10000}, 1000)
	channel, _ := s.setup(250)
	if err := s.sim.Quality(metasim.QualityChange{PhoneNumberID: phoneNumberID, Event: "DOWNGRADE", Rating: "YELLOW"}); err != nil {
		t.Fatal(err)
	}
	if err := s.jobs.Refresh(context.Background(), scheduler.Refresher{Meta: s.meta, Secrets: s.box}); err != nil {
		t.Fatal(err)
	}
	c := s.call("GET", fmt.Sprintf("/v1/channels/%d", channel), nil, 200)
	p := s.call("GET", fmt.Sprintf("/v1/portfolios/%d", int64(c["portfolio_id"].(float64))), nil, 200)
	if c["quality_rating"] != "YELLOW" || c["throughput_mps"].(float64) != 1000 || p["tier"].(float64) != 10000 {
		t.Fatalf("after refresh: channel %v, portfolio %v", c, p)
	}
	// A cap its owner set holds through refreshes; Meta's level, when lower, wins.
	s.call("PATCH", fmt.Sprintf("/v1/channels/%d", channel), map[string]any{"throughput_mps": 300}, 200)
	if err := s.jobs.Refresh(context.Background(), scheduler.Refresher{Meta: s.meta, Secrets: s.box}); err != nil {
		t.Fatal(err)
	}
	if c = s.call("GET", fmt.Sprintf("/v1/channels/%d", channel), nil, 200); c["throughput_mps"].(float64) != 300 || c["meta_mps"].(float64) != 1000 {
		t.Fatalf("a cap after refresh: %v", c)
	}
	s.sim.SetMPS(phoneNumberID, 80) // Meta moves the number to the standard level
	if err := s.jobs.Refresh(context.Background(), scheduler.Refresher{Meta: s.meta, Secrets: s.box}); err != nil {
		t.Fatal(err)
	}
	if c = s.call("GET", fmt.Sprintf("/v1/channels/%d", channel), nil, 200); c["throughput_mps"].(float64) != 80 || c["throughput_cap"].(float64) != 300 {
		t.Fatalf("the standard level under a higher cap: %v", c)
	}
}
