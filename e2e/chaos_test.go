package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// outcome is what the invariants of a fault scenario are checked on: from Postgres and from
// metasim's log.
type outcome struct {
	messages   int // message rows
	duplicates int // recipients metasim accepted more than one message for
	lost       int // eligible recipients without a final message row
	unknown    int // rows whose send's outcome is unknown (allowed; counted)
	breaches   int // sends metasim refused for throughput or tier
	recovered  time.Duration
}

// settle waits until every message of the account is final, and reads the outcome; audience is
// the eligible recipients, fault when the fault struck.
func (c *cluster) settle(audience int, fault time.Time, within time.Duration) outcome {
	c.t.Helper()
	ctx := context.Background()
	var o outcome
	testenv.Eventually(c.t, "every message final", within, func() bool {
		var open int
		_ = c.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status IN ('pending', 'queued', 'sending')),
			count(*) FILTER (WHERE status = 'unknown') FROM messages`).Scan(&o.messages, &open, &o.unknown)
		return o.messages == audience && open == 0
	})
	o.recovered = time.Since(fault)
	n := c.sim.Counters()
	o.duplicates = len(n.RepeatRecipients)
	o.breaches = n.RefusedByCode[130429] + n.TierBreaches
	var final int
	_ = c.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered', 'read', 'failed', 'skipped', 'unknown')`).Scan(&final)
	o.lost = audience - final
	return o
}

// check fails the test on a broken invariant, and logs the outcome as a row of `make chaos`'s
// table (CHAOS|scenario|messages|duplicates|lost|unknown|breaches|seconds to recover).
func (o outcome) check(t *testing.T) {
	t.Helper()
	t.Logf("CHAOS|%s|%d|%d|%d|%d|%d|%.1f", strings.TrimPrefix(t.Name(), "TestChaos"), o.messages, o.duplicates, o.lost, o.unknown, o.breaches,
		o.recovered.Seconds())
	if o.lost != 0 || o.breaches != 0 || o.duplicates > o.unknown {
		t.Fatalf("invariants broken: %+v", o)
	}
}

// chaosCluster is an api, a scheduler and two workers, sending a broadcast of n contacts on a
// number metasim limits to mps. Dripcast is told 90 % of it: the tests run under the race
// detector beside other processes on two cores, where metasim stamps sends with more jitter
// than the limiter's margin allows; BenchmarkRateAccuracy measures that margin on its own.
func chaosCluster(t *testing.T, n, mps int) (*cluster, []*proc) {
	c := newCluster(t, metasim.Config{TimeScale: 100}, true, "DRIPCAST_SENDING_TIMEOUT=5s")
	procs := []*proc{c.start("api"), c.start("scheduler"), c.start("worker"), c.start("worker")}
	channels, template := c.setupNumbers(mps)
	c.call("PATCH", fmt.Sprintf("/v1/channels/%d", channels[0]), map[string]any{"throughput_mps": mps * 9 / 10}, 200)
	c.importGroups(n)
	c.call("POST", "/v1/broadcasts", map[string]any{"name": "Chaos", "channel_id": channels[0], "template_id": template,
		"audience": map[string]any{"tag": "g0"}}, 201)
	return c, procs
}

// kill -9 of a worker mid-broadcast, then a new one: nothing lost, nothing sent twice. The
// messages it had claimed become unknown, those waiting for a throughput slot too (see the
// README's runbook).
func TestChaosWorkerKilled(t *testing.T) {
	c, procs := chaosCluster(t, 2000, 200)
	testenv.Eventually(t, "sending", 30*time.Second, func() bool { return c.sim.Counters().Accepted > 500 })
	procs[2].kill()
	fault := time.Now()
	c.start("worker")
	c.settle(2000, fault, 2*time.Minute).check(t)
}

// kill -9 of the scheduler leader: the standby leads within seconds and the broadcast completes.
func TestChaosSchedulerLeaderKilled(t *testing.T) {
	c, procs := chaosCluster(t, 2000, 200)
	standby := c.start("scheduler")
	testenv.Eventually(t, "sending", 30*time.Second, func() bool { return c.sim.Counters().Accepted > 300 })
	procs[1].kill()
	fault := time.Now()
	testenv.Eventually(t, "the standby leads", 15*time.Second, func() bool { return standby.metric("dripcast_scheduler_leader") == 1 })
	t.Logf("takeover in %s", time.Since(fault).Round(time.Millisecond))
	c.settle(2000, fault, 2*time.Minute).check(t)
}

// SIGTERM to a worker mid-broadcast: it finishes its sends or hands them back; no row is left
// in sending, none is unknown.
func TestChaosWorkerStopped(t *testing.T) {
	c, procs := chaosCluster(t, 2000, 200)
	testenv.Eventually(t, "sending", 30*time.Second, func() bool { return c.sim.Counters().Accepted > 500 })
	fault := time.Now()
	procs[2].stop(t, 30*time.Second)
	o := c.settle(2000, fault, 2*time.Minute)
	o.check(t)
	if o.unknown != 0 {
		t.Fatalf("a graceful stop left %d messages unknown", o.unknown)
	}
}

// A broadcast whose time passed while every process was down starts when they come back.
func TestChaosDueWhileDown(t *testing.T) {
	c := newCluster(t, metasim.Config{TimeScale: 100}, true)
	api := c.start("api")
	channels, template := c.setupNumbers(200)
	c.importGroups(300)
	c.call("POST", "/v1/broadcasts", map[string]any{"name": "Overnight", "channel_id": channels[0], "template_id": template,
		"audience": map[string]any{"tag": "g0"}, "send_at": time.Now().Add(2 * time.Second)}, 201)
	api.stop(t, 30*time.Second)
	time.Sleep(3 * time.Second)
	back := time.Now()
	c.start("api")
	c.start("scheduler")
	c.start("worker")
	c.settle(300, back, time.Minute).check(t)
}

// metric reads a gauge or counter without labels from the process's /metrics.
func (p *proc) metric(name string) float64 {
	res, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var v float64
		if _, err := fmt.Sscanf(sc.Text(), name+" %g", &v); err == nil {
			return v
		}
	}
	return -1
}
