package e2e

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/ratelimit"
)

var pacingSeconds = flag.Int("pacing-seconds", 30, "how long TestPacingHoldsUnderStalls sends at each number's limit")

// Pacing never bursts, stalls or not: an 80 mps and a 1,000 mps number send at their limits for
// -pacing-seconds through two worker processes, first alone, then beside a CPU hog (a busy loop
// on every core); metasim, counting over any sliding second from the first send, refuses none and
// sees no second above a limit. Not parallel: it loads the machine on purpose.
func TestPacingHoldsUnderStalls(t *testing.T) {
	for _, hog := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "with a CPU hog"}[hog], func(t *testing.T) {
			for _, n := range sendAtLimits(t, *pacingSeconds, hog) {
				if n.refused > 0 || n.slidingMax > n.limit {
					t.Errorf("%d mps number: %d sends refused for throughput, %d in one sliding second", n.limit, n.refused, n.slidingMax)
				}
				t.Logf("%d mps number: %.1f mps achieved; limit decisions %v", n.limit, n.rate, n.decisions)
			}
		})
	}
}

// paced is how one number's sends went: refused for throughput, the most in one sliding second,
// and the steady rate.
type paced struct {
	limit, refused, slidingMax int
	rate                       float64
	decisions                  map[string]int // the workers' limit decisions (allowed, late, throughput…)
}

// sendAtLimits sends from an 80 mps and a 1,000 mps number at once, seconds' worth at each
// limit, through two worker processes (and an api and a scheduler process) sharing Redis; with
// hog, beside a busy loop on every core.
func sendAtLimits(t testing.TB, seconds int, hog bool) []paced {
	limits := []int{80, 1000}
	c := newCluster(t, metasim.Config{}, false, "DRIPCAST_SEND_TOLERANCE="+ratelimit.DefaultTolerance.String())
	c.start("api")
	c.start("scheduler")
	workers := []*proc{c.start("worker"), c.start("worker")}
	channels, template := c.setupNumbers(limits...)
	sizes, total := make([]int, len(limits)), 0
	for i, l := range limits {
		sizes[i] = l * seconds
		total += sizes[i]
	}
	c.importGroups(sizes...)
	// metasim stands for Meta's servers, which share no CPU with Dripcast: in this process, it
	// runs at a higher priority where the test may set one, so it reads arrivals as they come.
	renice(-5)
	t.Cleanup(func() { renice(0) })
	if hog {
		startHog(t)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var unknown string
			_ = c.pool.QueryRow(context.Background(), `SELECT COALESCE(string_agg(id || ' ' || COALESCE(reason, '-'), ', '), '')
				FROM messages WHERE status = 'unknown'`).Scan(&unknown)
			t.Logf("messages: %s (unknown: %s); metasim per number: %+v", c.states(), unknown, c.sim.Counters().PerNumber)
		}
	})
	for i, ch := range channels {
		c.call("POST", "/v1/broadcasts", map[string]any{"name": fmt.Sprint("At ", limits[i]), "channel_id": ch,
			"template_id": template, "audience": map[string]any{"tag": fmt.Sprint("g", i)}}, 201)
	}
	// Every message settled: sent, or (a call timed out under the hog) unknown. Looked at twice a
	// second: counting the rows every 20 ms took a tenth of Postgres's core from the run it measures.
	wait := time.Duration(seconds)*4*time.Second + time.Minute
	for deadline, settled := time.Now().Add(wait), 0; settled < total; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("every send: %d of %d settled after %s", settled, total, wait)
		}
		_ = c.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status NOT IN ('pending', 'queued', 'sending'))
			FROM messages`).Scan(&settled)
	}
	counts, records := c.sim.Counters(), c.sim.Records(0, "")
	var out []paced
	for i, l := range limits {
		id := numberID(i)
		n := paced{limit: l, refused: counts.PerNumber[id].Throttled, slidingMax: slidingMax(records, id), rate: steadyRate(records, id),
			decisions: limitDecisions(t, workers, metrics.Channel(channels[i]))}
		if n.refused > 0 {
			dumpRefusal(t, records, id)
		}
		out = append(out, n)
	}
	return out
}

// slidingMax is the most sends of a number metasim accepted within any one second.
func slidingMax(records []metasim.Record, number string) int {
	var at []time.Time
	for _, r := range records {
		if r.PhoneNumberID == number && r.Accepted() {
			at = append(at, r.At)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	most, first := 0, 0
	for i := range at {
		for at[i].Sub(at[first]) >= time.Second {
			first++
		}
		most = max(most, i-first+1)
	}
	return most
}

// startHog keeps every core busy until the test ends, with a shell busy loop per core, which
// Dripcast's processes compete with.
func startHog(t testing.TB) {
	for range runtime.NumCPU() {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		dieWithTest(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
}

// renice sets the priority of every thread of this process (Linux gives each its own), where
// the system allows it; elsewhere it does nothing.
func renice(nice int) {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		if tid, err := strconv.Atoi(task.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
		}
	}
}

// limitDecisions sums the workers' limit decisions for a channel, by decision, from their /metrics.
func limitDecisions(t testing.TB, workers []*proc, channel string) map[string]int {
	out := map[string]int{}
	for _, w := range workers {
		res, err := http.Get("http://" + w.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		// Lines such as dripcast_limit_decisions_total{channel="1",decision="late"} 12
		prefix := `dripcast_limit_decisions_total{channel="` + channel + `",decision="`
		for line := range strings.Lines(string(body)) {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				decision, value, _ := strings.Cut(rest, `"} `)
				n, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
				out[decision] += int(n)
			}
		}
	}
	return out
}
