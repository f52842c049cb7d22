package e2e

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

var benchRateSeconds = flag.Int("bench-rate-seconds", 30, "how long BenchmarkRateAccuracy sends at each number's limit")

// BenchmarkRateAccuracy sends from a number at 80 mps and one at 1,000 mps at once, through two
// worker processes (and an api and a scheduler process) sharing Redis, for the given seconds.
// Each number's achieved rate over its full seconds of sending is compared with its limit;
// metasim counts every wall-clock second and refuses (130429) any send above the limit. The
// seconds with a refusal are reported (the target is none, judged by the table over every run)
// rather than failing the run: CI's small run checks the harness, on machines whose load it does
// not control.
func BenchmarkRateAccuracy(b *testing.B) {
	limits := []int{80, 1000}
	for range b.N {
		c := newCluster(b, metasim.Config{}, false)
		c.start("api")
		c.start("scheduler")
		c.start("worker")
		c.start("worker")
		channels, template := c.setupNumbers(limits...)
		sizes := make([]int, len(limits))
		total := 0
		for i, l := range limits {
			sizes[i] = l * *benchRateSeconds
			total += sizes[i]
		}
		c.importGroups(sizes...)
		for i, ch := range channels {
			c.call("POST", "/v1/broadcasts", map[string]any{"name": fmt.Sprint("At ", limits[i]), "channel_id": ch,
				"template_id": template, "audience": map[string]any{"tag": fmt.Sprint("g", i)}}, 201)
		}
		testenv.Eventually(b, "every send", time.Duration(*benchRateSeconds)*3*time.Second+time.Minute,
			func() bool { return c.sim.Counters().Accepted >= total })
		counts := c.sim.Counters()
		for i, l := range limits {
			nc := counts.PerNumber[numberID(i)]
			if nc.MaxPerSecond > l {
				b.Fatalf("%d mps number: metasim took %d in one second", l, nc.MaxPerSecond)
			}
			if nc.Throttled > 0 {
				b.Logf("%d mps number: %d sends refused for throughput in %d seconds", l, nc.Throttled, nc.SecondsThrottled)
			}
			rate := steadyRate(c.sim.Records(0, ""), numberID(i))
			b.ReportMetric(rate, fmt.Sprintf("mps-at-%d", l))
			b.ReportMetric(rate/float64(l), fmt.Sprintf("ratio-at-%d", l))
			b.ReportMetric(float64(nc.SecondsThrottled), fmt.Sprintf("seconds-over-at-%d", l))
		}
	}
}

// steadyRate is a number's accepted sends per second over the wall-clock seconds between its
// first and its last (those two are partial).
func steadyRate(records []metasim.Record, number string) float64 {
	perSecond := map[int64]int{}
	first, last := int64(1<<62), int64(0)
	for _, r := range records {
		if r.PhoneNumberID != number || !r.Accepted() {
			continue
		}
		s := r.At.Unix()
		perSecond[s]++
		first, last = min(first, s), max(last, s)
	}
	if last-first < 2 {
		return 0
	}

	sent := 0
	for s := first + 1; s < last; s++ {
		sent += perSecond[s]
	}
	return float64(sent) / float64(last-first-1)
}
