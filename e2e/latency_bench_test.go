package e2e

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

var benchLatencySamples = flag.Int("bench-latency-samples", 50, "broadcasts, and drip steps, BenchmarkScheduleLatency times")

// BenchmarkScheduleLatency times, through one `dripcast serve` process, how long after its time
// a scheduled broadcast's first message reaches metasim, and a due drip step's message. The
// broadcasts (one recipient each) and the steps fall due 137 ms apart, so every phase of the
// scheduler's ticks is sampled.
func BenchmarkScheduleLatency(b *testing.B) {
	for range b.N {
		k := *benchLatencySamples
		c := newCluster(b, metasim.Config{}, false)
		c.start("serve")
		c.sim.AddTemplate(metasim.Template{Name: "receipt", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
		channels, template := c.setupNumbers(1000)
		receipt := c.template("receipt", map[string]any{"source": "contact", "field": "first_name", "fallback": "there"})
		c.importGroups(k)

		due := map[string]time.Time{} // by recipient
		at := time.Now().Add(5 * time.Second)
		for i := range k {
			when := at.Add(time.Duration(i) * 137 * time.Millisecond)
			c.call("POST", "/v1/broadcasts", map[string]any{"name": fmt.Sprint("At ", i), "channel_id": channels[0], "template_id": template,
				"audience": map[string]any{"phones": []string{phoneOf(i)}}, "send_at": when}, 201)
			due[phoneOf(i)] = when.Truncate(time.Microsecond)
		}
		for phone, when := range c.dueDripSteps(k, channels[0], receipt) {
			due[phone] = when
		}
		testenv.Eventually(b, "every message", 2*time.Minute, func() bool { return c.sim.Counters().Accepted >= 2*k })
		var broadcasts, drips []float64
		for _, r := range c.sim.Records(0, "") {
			phone := "+" + r.To
			late := r.At.Sub(due[phone]).Seconds()
			if r.Template == "receipt" {
				drips = append(drips, late)
			} else {
				broadcasts = append(broadcasts, late)
			}
		}
		b.ReportMetric(percentile(broadcasts, 0.5), "broadcast-p50-s")
		b.ReportMetric(percentile(broadcasts, 0.99), "broadcast-p99-s")
		b.ReportMetric(percentile(drips, 0.5), "drip-p50-s")
		b.ReportMetric(percentile(drips, 0.99), "drip-p99-s")
	}
}

// dueDripSteps enrolls k new contacts in a one-step sequence whose step waits an hour, then
// brings each step's time to a few seconds from now, 137 ms apart; it answers each contact's due
// time.
func (c *cluster) dueDripSteps(k int, channel, template int64) map[string]time.Time {
	c.sequence(map[string]any{"name": "Receipt", "channel_id": channel, "trigger": map[string]any{"event": "order.placed"},
		"steps": []map[string]any{{"template_id": template, "delay": map[string]any{"amount": 1, "unit": "hours"}}}})
	for i := range k {
		c.call("POST", "/v1/events", map[string]any{"contact": map[string]any{"phone": phoneOf(k + i), "name": "Buyer"},
			"name": "order.placed", "id": fmt.Sprint("order-", i)}, 202)
	}
	ctx := context.Background()
	testenv.Eventually(c.t, "enrollments", time.Minute, func() bool {
		var n int
		_ = c.pool.QueryRow(ctx, "SELECT count(*) FROM enrollments WHERE next_run_at IS NOT NULL").Scan(&n)
		return n == k
	})
	rows, err := c.pool.Query(ctx, `UPDATE enrollments e SET next_run_at = $1::timestamptz + (o.n - 1) * interval '137 ms'
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM enrollments) o, contacts ct
		WHERE o.id = e.id AND ct.id = e.contact_id RETURNING ct.phone, e.next_run_at`, time.Now().Add(3*time.Second))
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var phone string
		var at time.Time
		if err := rows.Scan(&phone, &at); err != nil {
			c.t.Fatal(err)
		}
		out[phone] = at
	}
	return out
}

// percentile of xs by the nearest-rank method.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(p*float64(len(s))))-1)]
}
