package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// 10,000 contacts: 1,000 never opted in, 200 not on WhatsApp, a share that fails after being sent.
// metasim must receive exactly one message per eligible contact and none for the others, the
// funnel must match what metasim did, and no limit may be exceeded.
func TestBroadcastEndToEnd(t *testing.T) {
	const total, notOptedIn, notOnWA = 10000, 1000, 200
	var missing []string // spread through the audience, as in life (and under the auto-pause threshold)
	for i := range notOnWA {
		missing = append(missing, phoneOf(i*45+7))
	}
	s := newStack(t, metasim.Config{TimeScale: 100, SentDelay: 500 * time.Millisecond, DeliveredDelay: 2 * time.Second,
		ReadDelay: 5 * time.Second, ReadShare: 0.5, FailShare: 0.03, DuplicateShare: 0.1, PairInterval: 6 * time.Second,
		DefaultTier: 0, NotOnWhatsApp: missing, Seed: 7}, 1000)
	channel, template := s.setup("unlimited")

	var csv strings.Builder
	csv.WriteString("phone,name,tags,opted_in\n")
	for i := range total {
		fmt.Fprintf(&csv, "%s,Person %d,all,%t\n", phoneOf(i), i, i < total-notOptedIn)
	}
	imp := s.call("POST", "/v1/contacts/import", csv.String(), 200)
	if imp["created"].(float64) != total {
		t.Fatalf("import: %v", imp)
	}

	start := time.Now()
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Sale", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}}, 201)
	id := int64(b["id"].(float64))
	if est := b["audience_estimate"].(map[string]any); est["matching"].(float64) != total || est["eligible"].(float64) != total-notOptedIn {
		t.Fatalf("estimate: %v", est)
	}
	testenv.Eventually(t, "broadcast completed", 90*time.Second, func() bool {
		st := s.status(id)
		if testing.Verbose() {
			t.Logf("%s %v %+v", st, s.report(id), s.sim.Counters().RefusedByCode)
		}
		return st == "completed"
	})
	t.Logf("10,000 contacts sent in %s", time.Since(start))
	testenv.Eventually(t, "webhooks applied", 30*time.Second, func() bool { return s.sim.Counters().WebhooksPending == 0 })

	c := s.sim.Counters()
	recs := s.sim.Records(0, "")
	eligible := total - notOptedIn
	if c.Accepted != eligible || c.UniqueRecipients != eligible || len(c.RepeatRecipients) != 0 {
		t.Fatalf("metasim took %d sends to %d recipients (%d repeated), want exactly %d", c.Accepted, c.UniqueRecipients, len(c.RepeatRecipients), eligible)
	}
	for _, r := range recs {
		var n int
		fmt.Sscanf(r.To, "1212%07d", &n)
		if n-2000000 >= total-notOptedIn {
			t.Fatalf("a contact who never opted in got a message: %s", r.To)
		}
	}
	nc := c.PerNumber[phoneNumberID]
	if nc.MaxPerSecond > 1000 || nc.Throttled != 0 || c.TierBreaches != 0 {
		t.Fatalf("limits: %+v, tier breaches %d", nc, c.TierBreaches)
	}

	// The funnel is what metasim did.
	var failed, read int
	for _, r := range recs {
		if r.FailCode != 0 {
			failed++
		}
		if r.Read {
			read++
		}
	}
	rep := s.report(id)
	num := func(k string) int { return int(rep[k].(float64)) }
	failedByCode := rep["failed"].(map[string]any)
	if num("audience") != total || int(rep["skipped"].(map[string]any)["opted_out"].(float64)) != notOptedIn ||
		int(failedByCode["131026"].(float64)) != failed || num("read") != read || num("delivered") != eligible-failed ||
		num("waiting")+num("queued")+num("sending")+num("unknown") != 0 || rep["progress"].(float64) != 1 {
		t.Fatalf("report %v; metasim failed %d, read %d", rep, failed, read)
	}
	if eff := num("effective_audience"); eff != eligible-c.FailedByCode[131026] {
		t.Fatalf("effective audience %d, want the opted-in less those not on WhatsApp", eff)
	}
	// What it cost: Meta's pricing on the statuses, at the account's price list, per broadcast and per day.
	s.call("PUT", "/v1/account/prices", map[string]any{"prices": []map[string]any{
		{"category": "marketing", "country": "*", "price": 0.01, "currency": "USD"}}}, 200)
	billing := s.call("GET", fmt.Sprintf("/v1/broadcasts/%d/report", id), nil, 200)["billing"].(map[string]any)
	delivered := float64(eligible - failed)
	if billing["billable"] != delivered || math.Abs(billing["estimated_cost"].(float64)-delivered*0.01) > 1e-6 || billing["currency"] != "USD" {
		t.Errorf("billing %v, want the %v delivered at 0.01 USD", billing, delivered)
	}
	days, perDay := s.call("GET", "/v1/costs", nil, 200)["days"].([]any), 0.0
	for _, d := range days { // one day, or two across midnight UTC
		perDay += d.(map[string]any)["billable"].(float64)
	}
	if perDay != delivered {
		t.Errorf("costs per day: %v", days)
	}
	var rows int
	_ = s.pool.QueryRow(context.Background(), "SELECT count(*) FROM messages WHERE broadcast_id = $1", id).Scan(&rows)
	if rows != total {
		t.Fatalf("%d message rows, want one per contact", rows)
	}

	// The metrics tell the same story, labelled by channel id, never by phone number.
	res, err := http.Get(s.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`dripcast_sends_total{category="marketing",channel="%d",outcome="sent"} %d`, channel, eligible),
		fmt.Sprintf(`dripcast_feeder_queued_total{channel="%d"} %d`, channel, eligible),
		`dripcast_webhook_events_total{kind="status"}`,
		`dripcast_send_delay_seconds_count{channel=`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), "+1212") || strings.Contains(string(body), "1212200") {
		t.Error("a phone number reached the metrics")
	}
}
