package e2e

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
)

var benchRateSeconds = flag.Int("bench-rate-seconds", 30, "how long BenchmarkRateAccuracy sends at each number's limit")

// BenchmarkRateAccuracy runs the pacing scenario of TestPacingHoldsUnderStalls (an 80 mps and a
// 1,000 mps number at their limits through two worker processes) for the given seconds, alone and
// beside a CPU hog, and reports each number's achieved rate over its full seconds against its
// limit, and the sends metasim refused for throughput (over any sliding second). It reports them
// rather than failing the run: CI's small run checks the harness, on machines whose load it does
// not control; the test fails on a refusal.
func BenchmarkRateAccuracy(b *testing.B) {
	for range b.N {
		for _, hog := range []bool{false, true} {
			suffix := map[bool]string{false: "", true: "-hog"}[hog]
			for _, n := range sendAtLimits(b, *benchRateSeconds, hog) {
				if n.refused > 0 {
					b.Logf("%d mps number%s: %d sends refused for throughput", n.limit, suffix, n.refused)
				}
				b.ReportMetric(n.rate, fmt.Sprintf("mps-at-%d%s", n.limit, suffix))
				b.ReportMetric(n.rate/float64(n.limit), fmt.Sprintf("ratio-at-%d%s", n.limit, suffix))
				b.ReportMetric(float64(n.refused), fmt.Sprintf("refused-at-%d%s", n.limit, suffix))
			}
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

// dumpRefusal logs the number's sends in the second before its first refusal, to show how they bunched.
func dumpRefusal(t testing.TB, records []metasim.Record, number string) {
	var first time.Time
	var all []metasim.Record
	for _, r := range records {
		if r.PhoneNumberID != number {
			continue
		}
		all = append(all, r)
		if r.Code == 130429 && first.IsZero() {
			first = r.At
		}
	}
	start := all[0].At
	for _, r := range all {
		if r.At.After(first.Add(-1100*time.Millisecond)) && !r.At.After(first.Add(50*time.Millisecond)) {
			t.Logf("  %8.3f ms  code %d  cb %s", float64(r.At.Sub(start).Microseconds())/1000, r.Code, r.Callback)
		}
	}
}
