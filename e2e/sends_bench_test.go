package e2e

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/worker"
)

// The worker process's defaults (DRIPCAST_WORKER_SERVERS, DRIPCAST_WORKER_CONCURRENCY): the
// no-op baseline runs Asynq as the worker does.
const (
	workerServers     = 4
	workerConcurrency = 200
)

var (
	benchSends   = flag.Int("bench-sends", 200000, "the audience of BenchmarkSends")
	benchNumbers = flag.Int("bench-numbers", 8, "the numbers (channels at 1,000 mps each) BenchmarkSends sends from")
	// benchBoundSends: the audience of BenchmarkSends's second run, from one number at 1,000 mps,
	// whose limit binds.
	benchBoundSends = flag.Int("bench-bound-sends", 50000, "the audience of BenchmarkSends's run from one number whose limit binds")
)

// BenchmarkSends measures end-to-end sends per second: broadcasts from several numbers at Meta's
// highest throughput, through one `dripcast serve` process (scheduler, feeder, Asynq, workers
// that claim, check limits, send over HTTP to metasim and record), status webhooks off. Beside it,
// in the same run: Asynq servers configured as the worker's draining no-op tasks of the same
// size, and the floor pipeline (floorPipeline: the least a design with a row per recipient does
// here), whose rate and CPU time a send are the yardsticks of issue 23. A second run sends from
// one number at 1,000 mps (-bench-bound-sends), whose limit binds: a send's CPU time then, against
// the first run's. It also reports the process's peak RSS while it sends (the contacts' import before is
// left out) and Redis's peak memory.
func BenchmarkSends(b *testing.B) {
	for range b.N {
		noop, noopCPU := noopTasksPerSecond(b, *benchSends)
		floor, floorCPU := floorPipeline(b, *benchSends, *benchNumbers)
		mps := make([]int, *benchNumbers)
		for i := range mps {
			mps[i] = 1000
		}
		run := dripcastSends(b, *benchSends, mps)
		b.ReportMetric(run.rate, "sends/s")
		b.ReportMetric(noop, "noop-tasks/s")
		b.ReportMetric(run.rate/noop, "ratio")
		b.ReportMetric(floor, "floor-sends/s")
		b.ReportMetric(run.rate/floor, "floor-ratio")
		b.ReportMetric(float64(run.rss)/(1<<20), "peak-rss-MB")
		b.ReportMetric(float64(run.redis)/(1<<20), "redis-peak-MB")
		reportCPU(b, run.cpu, noopCPU)
		b.ReportMetric(floorCPU.machine, "floor-cpu-us/send")
		b.ReportMetric(floorCPU.postgres, "floor-postgres-us/send")
		b.ReportMetric(floorCPU.redis, "floor-redis-us/send")
		b.ReportMetric(floorCPU.harness, "floor-harness-us/send")
		b.ReportMetric(run.cpu.machine/floorCPU.machine, "cpu-vs-floor")
		// One number whose limit binds: sends wait for their slots.
		bound := dripcastSends(b, *benchBoundSends, []int{1000})
		b.ReportMetric(bound.cpu.machine, "bound-cpu-us/send")
		b.ReportMetric(bound.cpu.machine/run.cpu.machine, "bound-cpu-ratio")
		b.ReportMetric(bound.cpu.dripcast, "bound-dripcast-us/send")
		b.ReportMetric(bound.cpu.postgres, "bound-postgres-us/send")
		b.ReportMetric(bound.cpu.redis, "bound-redis-us/send")
	}
}

// sendsRun is what one dripcastSends run measured.
type sendsRun struct {
	rate       float64 // sends per second, from the first to the last
	cpu        cpuUse  // a send's CPU time, by process
	rss, redis int64   // peak RSS of `dripcast serve` while it sent, Redis's peak memory
}

// dripcastSends sends n messages (contacts split evenly) through one `dripcast serve` process,
// one broadcast per number of these throughputs, and checks metasim took each once.
func dripcastSends(b *testing.B, n int, mps []int) sendsRun {
	c := newCluster(b, metasim.Config{}, false)
	serve := c.start("serve")
	sizes := make([]int, len(mps))
	for i := range sizes {
		sizes[i] = n / len(mps)
	}
	sizes[0] += n % len(mps)
	channels, template := c.setupNumbers(mps...)
	c.importGroups(sizes...)
	peakRedis := watchRedisMemory(b, c.rdb)
	peakRSS := serve.watchRSS(b) // while it sends: the import before is the API's, not benchmark 2's
	for i, ch := range channels {
		c.call("POST", "/v1/broadcasts", map[string]any{"name": fmt.Sprint("Sale ", i), "channel_id": ch, "template_id": template,
			"audience": map[string]any{"tag": fmt.Sprint("g", i)}}, 201)
	}
	testenv.Eventually(b, "first send", time.Minute, func() bool { return c.sim.Counters().Accepted > 0 })
	first, cpu0 := time.Now(), cpuNow(serve.cmd.Process.Pid)
	testenv.Eventually(b, "every send", 30*time.Minute, func() bool { return c.sim.Counters().Accepted >= n })
	run := sendsRun{rate: float64(n) / time.Since(first).Seconds(), cpu: cpuNow(serve.cmd.Process.Pid).since(cpu0).perItem(n - 1)}
	run.rss, run.redis = peakRSS(), peakRedis()
	serve.stop(b, time.Minute)
	if got := c.sim.Counters(); got.Accepted != n || len(got.RepeatRecipients) > 0 || got.Requests != got.Accepted {
		b.Fatalf("accepted %d of %d, %d repeated, refused %v", got.Accepted, n, len(got.RepeatRecipients), got.RefusedByCode)
	}
	return run
}

// reportCPU reports the CPU time of a send, by process, beside a no-op task's: on two busy cores
// the ratio of the rates cannot exceed the ratio of these costs.
func reportCPU(b *testing.B, send, noop cpuUse) {
	b.ReportMetric(send.machine, "cpu-us/send")
	b.ReportMetric(send.dripcast, "dripcast-us/send")
	b.ReportMetric(send.postgres, "postgres-us/send")
	b.ReportMetric(send.redis, "redis-us/send")
	b.ReportMetric(send.harness, "metasim-us/send")
	b.ReportMetric(noop.machine, "noop-cpu-us/task")
	b.ReportMetric(noop.redis, "noop-redis-us/task")
	b.ReportMetric(noop.machine/send.machine, "cpu-ratio")
}

// noopTasksPerSecond drains n send-sized tasks through Asynq servers set up as Dripcast's worker
// sets them up, with a handler that does nothing: tasks per second, and the CPU time per task.
func noopTasksPerSecond(b *testing.B, n int) (float64, cpuUse) {
	srv := queuedTasks(b, n)
	mux := asynq.NewServeMux()
	var done atomic.Int64
	mux.HandleFunc(sendtask.Type, func(context.Context, *asynq.Task) error { done.Add(1); return nil })
	start, cpu0 := time.Now(), cpuNow(0)
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	testenv.Eventually(b, "no-op tasks drained", 10*time.Minute, func() bool { return done.Load() >= int64(n) })
	return float64(n) / time.Since(start).Seconds(), cpuNow(0).since(cpu0).perItem(n)
}

// queuedTasks enqueues n send tasks (message ids 1 to n) on a fresh Redis database and answers
// Asynq servers set up as the worker's, not started.
func queuedTasks(b *testing.B, n int) *worker.Servers {
	redisURL := testenv.RedisURL(b)
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	enqueueTasks(b, asynq.NewClientFromRedisClient(rdb), n)
	srv, err := worker.New(redisURL, workerServers, workerConcurrency, logger())
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

func enqueueTasks(b *testing.B, queue *asynq.Client, n int) {
	next := make(chan int64)
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			var first error
			for id := range next {
				task, opts := sendtask.New(id)
				if _, err := queue.Enqueue(task, opts...); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for i := range n {
		next <- int64(i + 1)
	}
	close(next)
	for range 16 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// watchRedisMemory samples Redis's used memory every 100 ms until the benchmark ends; the
// function it returns gives the peak so far.
func watchRedisMemory(b *testing.B, rdb *redis.Client) func() int64 {
	return watchPeak(b, nil, func() int64 {
		info, _ := rdb.Info(context.Background(), "memory").Result()
		return field(strings.Split(info, "\r\n"), "used_memory:%d")
	})
}

// watchPeak calls sample every 100 ms until the test ends (or done closes); the function it
// returns samples once more and gives the largest value seen.
func watchPeak(t testing.TB, done <-chan struct{}, sample func() int64) func() int64 {
	var peak atomic.Int64
	take := func() int64 {
		if v := sample(); v > peak.Load() {
			peak.Store(v)
		}
		return peak.Load()
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			take()
			select {
			case <-stop:
				return
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return take
}

// field reads the first line of lines that matches format (one integer), or 0.
func field(lines []string, format string) int64 {
	for _, line := range lines {
		var v int64
		if _, err := fmt.Sscanf(line, format, &v); err == nil {
			return v
		}
	}
	return 0
}

// numberID is the phone number id of the i-th number setupNumbers registers.
func numberID(i int) string { return fmt.Sprint(300000000000000 + i) }

// setupNumbers registers numbers of one portfolio at these throughputs, on metasim and in
// Dripcast, and the promo template.
func (s *stack) setupNumbers(mps ...int) (channels []int64, template int64) {
	p := s.call("POST", "/v1/portfolios", map[string]any{"name": "Main", "tier": "unlimited"}, 201)
	for i, rate := range mps {
		id, display := numberID(i), fmt.Sprintf("+1415555%04d", i)
		s.sim.AddNumber(metasim.Number{PhoneNumberID: id, WABAID: wabaID, DisplayNumber: display, Token: token, MPS: rate, Portfolio: "p"})
		c := s.call("POST", "/v1/channels", map[string]any{"portfolio_id": p["id"], "phone_number_id": id, "waba_id": wabaID,
			"display_number": display, "access_token": token, "app_secret": appSecret, "throughput_mps": rate}, 201)
		channels = append(channels, int64(c["id"].(float64)))
	}
	tp := s.call("POST", "/v1/templates", map[string]any{"name": "promo", "language": "en", "category": "marketing",
		"components": map[string]any{"body": map[string]any{"text": "Hi {{1}}, our sale starts today."}},
		"parameters": map[string]any{"body.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"}}}, 201)
	return channels, int64(tp["id"].(float64))
}

// importGroups imports opted-in contacts: sizes[0] tagged g0, then sizes[1] tagged g1, and so on.
func (s *stack) importGroups(sizes ...int) {
	var csv strings.Builder
	csv.WriteString("phone,name,tags,opted_in\n")
	n := 0
	for g, size := range sizes {
		for range size {
			fmt.Fprintf(&csv, "%s,Person %d,g%d,yes\n", phoneOf(n), n, g)
			n++
		}
	}
	if r := s.call("POST", "/v1/contacts/import", csv.String(), 200); r["created"].(float64) != float64(n) {
		s.t.Fatalf("import: %v", r)
	}
}
