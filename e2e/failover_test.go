package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// Redis's primary killed (kill -9) mid-broadcast, Dripcast's processes on Sentinels
// (scripts/services.sh sentinel): Sentinel promotes the replica, sending resumes on it within
// 30 s, and the invariants hold. The primary first drops its replica's link, so the replica lacks
// its last writes (tier entries, queue moves): the limiter's marks go on the first
// connection to the promoted replica and the tier is rebuilt from Postgres, so a second broadcast
// after the failover still gets only what is left of the tier (metasim counts any send over it).
func TestChaosRedisFailover(t *testing.T) {
	set := startSentinels(t)
	c := newChaos(t, metasim.Config{}, 200, 2000, "DRIPCAST_REDIS_URL="+set.url)
	c.startAll(1500, 1000)
	c.broadcast("g0")
	c.sending(600)
	// The replica stops for 0.6 s (less than the Sentinels' second: it stays electable) while the
	// primary drops its link, takes writes for 0.3 s that the replica cannot fetch, and dies.
	primary, promoted := set.node(t, "primary"), set.node(t, "replica")
	set.signal(t, "replica", syscall.SIGSTOP)
	time.AfterFunc(600*time.Millisecond, func() { set.signal(t, "replica", syscall.SIGCONT) })
	_ = primary.Do(context.Background(), "CLIENT", "KILL", "TYPE", "replica").Err()
	time.Sleep(300 * time.Millisecond)
	offset := replOffset(t, primary, "master_repl_offset")
	set.signal(t, "primary", syscall.SIGKILL)
	fault := time.Now()
	testenv.Eventually(t, "the replica promoted", 30*time.Second, func() bool {
		role, _ := promoted.Do(context.Background(), "ROLE").Slice()
		return len(role) > 0 && role[0] == "master"
	})
	accepted := c.sim.Counters().Accepted // sends admitted before the loss may still be going out
	testenv.Eventually(t, "sending resumed", 30*time.Second-time.Since(fault), func() bool { return c.sim.Counters().Accepted > accepted+50 })
	resumed := time.Since(fault)
	lost := offset - (replOffset(t, promoted, "second_repl_offset") - 1) // what the primary wrote past the replica
	testenv.Eventually(t, "the first broadcast sent", time.Minute, func() bool { return c.sim.Counters().Accepted >= 1440 })
	c.broadcast("g1")
	var eligible int
	_ = c.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE opted_in`).Scan(&eligible)
	c.settle(2500, eligible-2000, fault, 2*time.Minute).check(t)
	t.Logf("sending resumed %s after the primary's loss; the replica lacked %d bytes of its writes", resumed.Round(time.Millisecond), lost)
}

// sentinelSet is a Redis primary, its replica and three Sentinels started by the services script
// in a folder of the test's own.
type sentinelSet struct {
	dir, url string
}

func startSentinels(t *testing.T) sentinelSet {
	t.Helper()
	dir := t.TempDir()
	env := []string{"DRIPCAST_SERVICES_DIR=" + dir}
	url := runScript(t, env, "DRIPCAST_REDIS_URL", "services.sh", "sentinel")
	t.Cleanup(func() {
		down := exec.Command(scriptPath(t, "services.sh"), "sentinel-down")
		down.Env = append(os.Environ(), env...)
		_ = down.Run()
	})
	return sentinelSet{dir: filepath.Join(dir, "sentinel"), url: url}
}

func (s sentinelSet) read(t *testing.T, node, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, node, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// node is a client of one server of the set, by its folder's name.
func (s sentinelSet) node(t *testing.T, name string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + s.read(t, name, "port"), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func (s sentinelSet) signal(t *testing.T, name string, sig syscall.Signal) {
	pid, err := strconv.Atoi(s.read(t, name, "pid"))
	if err != nil {
		t.Error(err)
		return
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Error(err)
	}
}

// replOffset reads one offset of INFO replication.
func replOffset(t *testing.T, rdb *redis.Client, field string) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(field + `:(-?\d+)`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("no %s in %s", field, info)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}
