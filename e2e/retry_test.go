package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// retryScale runs the retry job's clock two hours per second: smart retries over 2 days go 8 s
// apart, a 131049's 24 h pass in 12 s.
const retryScale = 7200

// A broadcast with smart retries over 2 days, on the scaled clock, to five recipients: one
// delivered at once; one Meta cannot reach for now (131000) and one Meta's marketing cap holds
// (131049), each delivered by the retry, the first 16 h after the send, the second no sooner than
// 24 h after its failure; one unreachable who opts out before the retry, never sent again; one not
// on WhatsApp (131026), never retried. The report's retry log counts what metasim received, the
// broadcast shows it is retrying meanwhile, and nobody gets the message twice.
func TestSmartRetry(t *testing.T) {
	t.Parallel() // counts no sends per second
	digits := func(i int) string { return strings.TrimPrefix(phoneOf(i), "+") }
	const delivered, unreachable, capped, stopper, notOnWA = 0, 1, 2, 3, 4
	s := newStackAt(t, metasim.Config{TimeScale: retryScale, NotOnWhatsApp: []string{digits(notOnWA)},
		FailFirst: map[string]int{digits(unreachable): 131000, digits(capped): 131049, digits(stopper): 131000}},
		1000, clock.NewScaled(retryScale))
	channel, template := s.setup("unlimited")
	importContacts(t, s, 5, utc)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Retried", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "retry": map[string]any{"mode": "smart", "days": 2}}, 201)
	id := int64(b["id"].(float64))
	if r := b["retry"].(map[string]any); r["mode"] != "smart" || r["days"] != 2.0 {
		t.Errorf("the broadcast's retry policy: %v", r)
	}

	testenv.Eventually(t, "three failures waiting for a retry", 30*time.Second, func() bool {
		r, _ := s.report(id)["retries"].(map[string]any)
		return r != nil && r["waiting"] == 3.0
	})
	testenv.Eventually(t, "the broadcast retrying", 10*time.Second, func() bool {
		return s.call("GET", fmt.Sprintf("/v1/broadcasts/%d", id), nil, 200)["state"] == "retrying"
	})
	if err := s.sim.Inbound(metasim.Inbound{PhoneNumberID: phoneNumberID, From: digits(stopper), Text: "STOP"}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the retries delivered", 60*time.Second, func() bool {
		return s.status(id) == "completed" && s.report(id)["delivered"] == 3.0
	})

	sends := map[string][]metasim.Record{}
	for _, r := range s.sim.Records(0, "") {
		if r.Accepted() {
			sends[r.To] = append(sends[r.To], r)
		}
	}
	for i, want := range map[int]int{delivered: 1, unreachable: 2, capped: 2, stopper: 1, notOnWA: 1} {
		if got := len(sends[digits(i)]); got != want {
			t.Errorf("recipient %d got %d sends, want %d", i, got, want)
		}
		deliveredTo := 0
		for _, r := range sends[digits(i)] {
			if r.FailCode == 0 {
				deliveredTo++
			}
		}
		if deliveredTo > 1 {
			t.Errorf("recipient %d got the message %d times", i, deliveredTo)
		}
	}
	gap := func(i int) time.Duration {
		if r := sends[digits(i)]; len(r) == 2 {
			return r[1].At.Sub(r[0].At)
		}
		return 0
	}
	// Smart over 2 days: a retry every 16 h (8 s here) from the first attempt as Dripcast recorded
	// it (its claim: Meta got the send later, by as much as a loaded machine delays it, once 0.3 s,
	// which this clock makes 36 minutes). The cap's failure is stamped in whole seconds by Meta: its
	// 24 h (12 s) count from up to a second before it.
	var first time.Time
	if err := s.pool.QueryRow(context.Background(), `SELECT a.at FROM message_attempts a JOIN messages m ON m.id = a.message_id
		JOIN contacts c ON c.id = m.contact_id WHERE a.attempt = 0 AND c.phone = $1`, phoneOf(unreachable)).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if r := sends[digits(unreachable)]; len(r) == 2 && r[1].At.Sub(first) < 16*time.Hour/retryScale-100*time.Millisecond {
		t.Errorf("the unreachable recipient's retry went %v after the first attempt, want 16 h (%v)", r[1].At.Sub(first), 16*time.Hour/retryScale)
	}
	if g := gap(capped); g < 24*time.Hour/retryScale-time.Second {
		t.Errorf("the capped recipient's retry went %v after the send, want 24 h after the failure (%v)", g, 24*time.Hour/retryScale)
	}

	rep := s.report(id)
	retries := rep["retries"].(map[string]any)
	log := retries["log"].([]any)
	if len(log) != 1 || log[0].(map[string]any)["attempt"] != 1.0 || log[0].(map[string]any)["count"] != 2.0 {
		t.Errorf("the retry log: %v, want 2 first retries (metasim got 2)", log)
	}
	if retries["delivered_by_retry"] != 2.0 || retries["waiting"] != 0.0 {
		t.Errorf("the retries: %v, want 2 delivered by retry and none waiting", retries)
	}
	if f := rep["failed"].(map[string]any); len(f) != 1 || f["131026"] != 1.0 {
		t.Errorf("failed: %v, want the one not on WhatsApp", f)
	}
	if sk := rep["skipped"].(map[string]any); sk["opted_out"] != 1.0 {
		t.Errorf("skipped: %v, want the one who opted out before the retry", sk)
	}
	checkRetryColumns(t, s, id, map[string]string{phoneOf(unreachable): "1", phoneOf(capped): "1", phoneOf(stopper): "0", phoneOf(delivered): "0"})
}

// checkRetryColumns reads the broadcast's recipients CSV and checks each phone's retry_attempts,
// and that a retried one has its last retry's time.
func checkRetryColumns(t *testing.T, s *stack, id int64, want map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.api+fmt.Sprintf("/v1/broadcasts/%d/recipients?format=csv", id), nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rows, err := csv.NewReader(io.Reader(res.Body)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("the recipients CSV: %v %v", rows, err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		w, ok := want[r[col["phone"]]]
		if !ok {
			continue
		}
		if r[col["retry_attempts"]] != w || (w != "0") != (r[col["retried"]] == "true") || (w != "0") != (r[col["last_retried_at"]] != "") {
			t.Errorf("%s: retried %s, retry_attempts %s, last_retried_at %q; want %s attempts", r[col["phone"]], r[col["retried"]],
				r[col["retry_attempts"]], r[col["last_retried_at"]], w)
		}
	}
}

// A retry is held to the account's frequency cap as a first send is: a contact who got another
// marketing message while their failed one waited for its retry (the cap: one a week) is not sent
// the retry; it is skipped as frequency_cap.
func TestRetryHeldToFrequencyCap(t *testing.T) {
	t.Parallel() // counts no sends per second
	unreachable := strings.TrimPrefix(phoneOf(0), "+")
	s := newStackAt(t, metasim.Config{TimeScale: retryScale, FailFirst: map[string]int{unreachable: 131000}}, 1000, clock.NewScaled(retryScale))
	channel, template := s.setup("unlimited")
	importContacts(t, s, 1, utc)
	s.call("PUT", "/v1/account/settings", map[string]any{"frequency_cap": map[string]any{"max": 1, "days": 7}}, 200)
	b := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Retried", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "retry": map[string]any{"mode": "smart", "days": 2}}, 201)
	retried := int64(b["id"].(float64))
	testenv.Eventually(t, "the failure waiting for a retry", 30*time.Second, func() bool {
		r, _ := s.report(retried)["retries"].(map[string]any)
		return r != nil && r["waiting"] == 1.0
	})
	other := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Another", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "all"}, "retry": map[string]any{"mode": "off"}}, 201)
	testenv.Eventually(t, "the other delivered", 30*time.Second, func() bool { return s.report(int64(other["id"].(float64)))["delivered"] == 1.0 })
	testenv.Eventually(t, "the retry skipped", 30*time.Second, func() bool {
		sk, _ := s.report(retried)["skipped"].(map[string]any)
		return sk["frequency_cap"] == 1.0
	})
	if n := len(s.sim.Records(0, unreachable)); n != 2 {
		t.Errorf("metasim got %d sends for the contact, want the first attempt and the other broadcast", n)
	}
}
