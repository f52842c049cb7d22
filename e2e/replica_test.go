package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// With DRIPCAST_DATABASE_REPLICA_URL, reports and recipient lists are read from the streaming
// replica (scripts/services.sh replica): while its replay is paused, a broadcast sent since shows
// nothing sent there (the broadcast itself is found on the primary: no 404), and once replay
// resumes the report catches up.
func TestReportsReadTheReplica(t *testing.T) {
	dbURL, replicaURL := primaryAndReplica(t)
	c := newChaosOn(t, dbURL, metasim.Config{}, 200, 0, "DRIPCAST_DATABASE_REPLICA_URL="+replicaURL)
	c.start("serve")
	c.number()
	c.importGroups(100, 100)
	replica, err := db.Open(context.Background(), replicaURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	sent := func(id int64) int64 {
		return int64(c.call("GET", fmt.Sprintf("/v1/broadcasts/%d/report", id), nil, 200)["report"].(map[string]any)["sent"].(float64))
	}
	first := c.sendTo("g0")
	testenv.Eventually(t, "the first broadcast's report", time.Minute, func() bool { return sent(first) == 100 })

	if _, err := replica.Exec(context.Background(), `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	second := c.sendTo("g1")
	testenv.Eventually(t, "the second broadcast sent", time.Minute, func() bool {
		return c.count(fmt.Sprintf("broadcast_id = %d AND sent_at IS NOT NULL", second)) == 100
	})
	recipients := c.call("GET", fmt.Sprintf("/v1/broadcasts/%d/recipients", second), nil, 200)["data"].([]any)
	if n := sent(second); n != 0 || len(recipients) != 0 {
		t.Fatalf("with the replica's replay paused, the report shows %d sent and the list %d recipients: not read from the replica", n, len(recipients))
	}
	if _, err := replica.Exec(context.Background(), `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the report caught up", 30*time.Second, func() bool { return sent(second) == 100 })
}

// sendTo starts a broadcast of the template to the contacts tagged tag, and answers its id.
func (c *chaos) sendTo(tag string) int64 {
	b := c.call("POST", "/v1/broadcasts", map[string]any{"name": "To " + tag, "channel_id": c.channel, "template_id": c.template,
		"audience": map[string]any{"tag": tag}}, 201)
	return int64(b["id"].(float64))
}

// primaryAndReplica starts a Postgres of the test's own and a streaming replica of it, with the
// services script, and answers their URLs (the primary's database migrated).
func primaryAndReplica(t *testing.T) (primary, replica string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "dripcast-replica-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user runs the servers in it
		t.Fatal(err)
	}
	// Not the test run's own servers: the script starts new ones when these two are unset.
	env := []string{"DRIPCAST_SERVICES_DIR=" + dir, "DRIPCAST_DATABASE_URL=", "DRIPCAST_REDIS_URL="}
	t.Cleanup(func() {
		down := exec.Command(scriptPath(t, "services.sh"), "down")
		down.Env = append(os.Environ(), env...)
		_ = down.Run()
		os.RemoveAll(dir)
	})
	primary = runScript(t, env, "DRIPCAST_DATABASE_URL", "services.sh", "up")
	if err := db.Migrate(context.Background(), primary, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return primary, runScript(t, env, "DRIPCAST_DATABASE_REPLICA_URL", "services.sh", "replica")
}
