package e2e

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

var (
	benchRedisAudience = flag.Int("bench-redis-audience", 1000000, "the audience of BenchmarkRedisMemory's broadcast")
	benchRedisSeconds  = flag.Int("bench-redis-seconds", 20, "how long BenchmarkRedisMemory watches the broadcast send once it is expanded")
)

// BenchmarkRedisMemory watches Redis's used memory while one `dripcast serve` process expands a
// broadcast to a large audience and sends it at 1,000 mps. The feeder keeps a few seconds of each
// channel's sends in Redis, so the peak does not grow with the audience; the baseline is what
// enqueuing every task up front would cost (~700 B a task).
func BenchmarkRedisMemory(b *testing.B) {
	for range b.N {
		n := *benchRedisAudience
		c := newCluster(b, metasim.Config{}, false)
		c.start("serve")
		channels, template := c.setupNumbers(1000)
		c.seedContacts(n, "all")
		ctx := context.Background()
		peak := watchRedisMemory(b, c.rdb)
		c.call("POST", "/v1/broadcasts", map[string]any{"name": "Everyone", "channel_id": channels[0], "template_id": template,
			"audience": map[string]any{"tag": "all"}}, 201)
		testenv.Eventually(b, "expanded", 10*time.Minute, func() bool {
			var rows int
			_ = c.pool.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&rows)
			return rows == n
		})
		time.Sleep(time.Duration(*benchRedisSeconds) * time.Second)
		if c.sim.Counters().Accepted == 0 {
			b.Fatal("nothing sent")
		}
		baseline := 700 * float64(n)
		b.ReportMetric(float64(peak())/(1<<20), "redis-peak-MB")
		b.ReportMetric(baseline/(1<<20), "all-tasks-MB")
		b.ReportMetric(float64(peak())/baseline, "ratio")
	}
}
