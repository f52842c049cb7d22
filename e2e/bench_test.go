package e2e

import (
	"flag"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

var benchTier = flag.Int("bench-tier", 2000, "the portfolio tier of BenchmarkTier (250, 2000, 10000 or 100000); its audience is 1.5 times it")

// BenchmarkTier sends a broadcast to 1.5 times a portfolio's tier through the whole path: exactly
// the tier must be sent within the moving 24 h, the rest held (pending), none lost, no second of
// metasim's tier window breached.
func BenchmarkTier(b *testing.B) {
	for range b.N {
		tier := *benchTier
		audience := tier * 3 / 2
		s := newStack(b, metasim.Config{TimeScale: 100, DefaultTier: tier}, 1000)
		channel, template := s.setup(tier)
		importContacts(b, s, audience, utc)
		bc := s.call("POST", "/v1/broadcasts", map[string]any{"name": "Tiered", "channel_id": channel, "template_id": template,
			"audience": map[string]any{"tag": "all"}}, 201)
		testenv.Eventually(b, "the tier is used", 60*time.Second, func() bool { return s.sim.Counters().Accepted >= tier })
		time.Sleep(2 * time.Second) // anything past the tier would go out now
		c := s.sim.Counters()
		rep := s.report(int64(bc["id"].(float64)))
		held := int(rep["waiting"].(float64))
		lost := audience - c.Accepted - held
		if lost != 0 || c.TierBreaches != 0 {
			b.Fatalf("sent %d, held %d, lost %d, tier breaches %d", c.Accepted, held, lost, c.TierBreaches)
		}
		b.ReportMetric(float64(c.Accepted), "sent")
		b.ReportMetric(float64(tier), "tier")
		b.ReportMetric(float64(c.Accepted)/float64(tier), "ratio")
		b.ReportMetric(float64(held), "held")
	}
}
