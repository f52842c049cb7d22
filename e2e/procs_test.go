package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/testenv"
)

// A cluster is Dripcast as separate processes of the real binary (serve, api, worker, scheduler)
// on one test database and Redis database, sending to an in-process metasim: what benchmarks of
// memory and throughput, and kill -9 tests, need.
type cluster struct {
	*stack // the API client, pool, Redis and metasim; its jobs are nil (the processes run them)
	env    []string
	dir    string

	dbURL, redisURL string
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/dripcast once per test binary.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dripcast-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dripcast")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/dripcast").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// newCluster takes a fresh migrated database, creates an account and starts metasim (posting status
// webhooks when hooks is set); env adds DRIPCAST_* settings for every process. Start processes
// with start. A send may be written 100 ms after its slot, as in the in-process stack: these tests
// share two cores under the race detector, where most wakes miss 5 ms; TestPacingHoldsUnderStalls
// holds the default.
func newCluster(t testing.TB, simCfg metasim.Config, hooks bool, env ...string) *cluster {
	t.Helper()
	return newClusterOn(t, testenv.DatabaseURL(t), simCfg, hooks, env...)
}

// newClusterOn is newCluster on a migrated database of the test's own.
func newClusterOn(t testing.TB, dbURL string, simCfg metasim.Config, hooks bool, env ...string) *cluster {
	t.Helper()
	redisURL := testenv.RedisURL(t)
	ctx := context.Background()
	pool, err := db.Open(ctx, dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })

	// metasim's address is taken before the API's is chosen: the other way round, metasim was
	// once given the port just chosen for the API (free again until the API process binds it),
	// and the API's requests went to metasim.
	simSrv := httptest.NewUnstartedServer(nil)
	apiAddr := testenv.FreeAddr(t)
	if hooks {
		simCfg.WebhookURL = "http://" + apiAddr + "/webhooks/whatsapp"
		simCfg.WebhookSecret = appSecret
	}
	sim := metasim.New(simCfg)
	t.Cleanup(sim.Close)
	sim.AddNumber(metasim.Number{PhoneNumberID: phoneNumberID, WABAID: wabaID, DisplayNumber: "+14155550199", Token: token, MPS: 1000, Portfolio: "p"})
	sim.AddTemplate(metasim.Template{Name: "promo", Language: "en", Category: "marketing", Params: map[string]int{"body": 1}})
	simSrv.Config.Handler = sim.Handler()
	simSrv.Listener = metasim.Stamp(simSrv.Config, simSrv.Listener)
	simSrv.Start()
	t.Cleanup(simSrv.Close)

	c := &cluster{dir: t.TempDir(), dbURL: dbURL, redisURL: redisURL, env: append([]string{"DRIPCAST_DATABASE_URL=" + dbURL, "DRIPCAST_REDIS_URL=" + redisURL,
		"DRIPCAST_SECRET_KEYS=" + secrets.NewKey("k1"), "DRIPCAST_META_BASE_URL=" + simSrv.URL, "DRIPCAST_LOG_LEVEL=warn",
		"DRIPCAST_KEY_RATE_LIMIT=1000", "DRIPCAST_KEY_BURST=1000", "DRIPCAST_SEND_TOLERANCE=100ms"}, env...)}
	c.stack = &stack{t: t, pool: pool, rdb: rdb, sim: sim, api: "http://" + apiAddr}
	c.key = c.createAccount()
	return c
}

// faultable puts proxies between the processes started from now on and Postgres and Redis, for
// tests that cut or slow those connections (the test's own clients stay direct).
func (c *cluster) faultable() (pg, rd *testenv.Proxy) {
	pg = testenv.NewProxy(c.t, testenv.HostOf(c.t, c.dbURL))
	rd = testenv.NewProxy(c.t, testenv.HostOf(c.t, c.redisURL))
	// os/exec keeps the last of duplicate variables.
	c.env = append(c.env, "DRIPCAST_DATABASE_URL="+pg.Via(c.t, c.dbURL), "DRIPCAST_REDIS_URL="+rd.Via(c.t, c.redisURL))
	return pg, rd
}

func (c *cluster) createAccount() string {
	out, err := c.command("admin", "create-account", "--name", "Acme").Output()
	if err != nil {
		c.t.Fatalf("create-account: %v", err)
	}
	m := regexp.MustCompile(`api_key=(dc_\S+)`).FindSubmatch(out)
	if m == nil {
		c.t.Fatalf("create-account printed no key: %s", out)
	}
	return string(m[1])
}

func (c *cluster) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

// A proc is one running Dripcast process.
type proc struct {
	role string
	addr string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start runs `dripcast role` and waits until it is healthy. The first api or serve process takes
// the address metasim posts webhooks to and the stack's API client calls.
func (c *cluster) start(role string, env ...string) *proc {
	c.t.Helper()
	addr := testenv.FreeAddr(c.t)
	if (role == "serve" || role == "api") && !c.apiStarted() {
		addr = c.api[len("http://"):]
	}
	p := &proc{role: role, addr: addr, log: filepath.Join(c.dir, fmt.Sprintf("%s-%d.log", role, time.Now().UnixNano())), done: make(chan struct{})}
	logFile, err := os.Create(p.log)
	if err != nil {
		c.t.Fatal(err)
	}
	p.cmd = c.command(role)
	p.cmd.Env = append(p.cmd.Env, append(env, "DRIPCAST_HTTP_ADDR="+addr)...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	dieWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); logFile.Close(); close(p.done) }()
	c.t.Cleanup(func() {
		p.kill()
		if c.t.Failed() { // the process's own account of what went wrong, before its directory goes
			c.t.Logf("dripcast %s (%s), last lines of its log:\n%s", role, addr, p.tail(40))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !p.healthy() {
		select {
		case <-p.done:
			c.t.Fatalf("dripcast %s exited: %v\n%s", role, p.err, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("dripcast %s not healthy in 20s\n%s", role, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (c *cluster) apiStarted() bool {
	res, err := http.Get(c.api + "/healthz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return true
}

func (p *proc) healthy() bool {
	res, err := http.Get("http://" + p.addr + "/healthz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

func (p *proc) logs() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// tail answers the last n lines of the process's log.
func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.logs(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// kill ends the process at once (SIGKILL), as a crash would.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop asks the process to shut down (SIGTERM) and waits for it.
func (p *proc) stop(t testing.TB, within time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("dripcast %s exited with %v\n%s", p.role, p.err, p.logs())
		}
	case <-time.After(within):
		t.Fatalf("dripcast %s did not stop within %s of SIGTERM", p.role, within)
	}
}

// watchRSS samples the process's resident memory every 100 ms from now until it exits or the
// test ends; the function it returns gives the peak so far, in bytes.
func (p *proc) watchRSS(t testing.TB) func() int64 {
	status := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	return watchPeak(t, p.done, func() int64 {
		raw, _ := os.ReadFile(status)
		return field(strings.Split(string(raw), "\n"), "VmRSS: %d kB") * 1024
	})
}
