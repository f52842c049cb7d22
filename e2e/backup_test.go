package e2e

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/metasim"
)

// make backup-check: a Postgres archiving its WAL to an encrypted pgBackRest repository
// (scripts/backup.sh) after a full backup, Dripcast sending a broadcast on it, an instant chosen
// mid-broadcast, then the repository restored to that instant into a new data directory and
// started: every send recorded before the instant is there, and none of those recorded after
// it. The log says what RPO and RTO to expect: the archive's lag while the broadcast sent, and
// how long the restore took.
func TestBackupRestore(t *testing.T) {
	dir, err := os.MkdirTemp("", "dripcast-backup-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user runs the servers in it
		t.Fatal(err)
	}
	dbURL := runScript(t, nil, "DATABASE_URL", "backup.sh", "up", dir)
	t.Cleanup(func() { _ = exec.Command(scriptPath(t, "backup.sh"), "down", dir).Run() })
	if err := db.Migrate(context.Background(), dbURL, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	c := newChaosOn(t, dbURL, metasim.Config{}, 100, 0)
	c.start("serve")
	c.number()
	c.importGroups(1500)
	c.broadcast("g0")
	c.sending(500)

	sent, at := sentBefore(t, dbURL)
	lag := c.archiveLag()
	c.sending(1000) // sends recorded after the instant, which the restore must not have
	start := time.Now()
	// pgBackRest reads milliseconds: the next one after the instant, so nothing before it is cut.
	target := at.UTC().Truncate(time.Millisecond).Add(time.Millisecond).Format("2006-01-02 15:04:05.000-07:00")
	restored := runScript(t, nil, "RESTORED_URL", "backup.sh", "restore", dir, target)
	rto := time.Since(start)
	got, _ := sentBefore(t, restored)
	if missing := len(slices.DeleteFunc(slices.Clone(sent), func(id int64) bool { _, ok := slices.BinarySearch(got, id); return ok })); missing > 0 {
		t.Fatalf("%d of the %d sends recorded before %s are not in the restore", missing, len(sent), at)
	}
	if extra := len(got) - len(sent); extra > len(sent)/100 { // commits in the instant between the snapshot and its time
		t.Fatalf("the restore holds %d sends, %d more than were recorded at %s", len(got), extra, at)
	}
	t.Logf("restored %d sends to %s in %s (RTO, on this machine, for a %d-row database); the archive lagged %s behind (RPO: at most archive_timeout, 30 s)",
		len(got), at.Format(time.TimeOnly), rto.Round(time.Millisecond), c.count("true"), lag.Round(time.Millisecond))
}

// sentBefore answers the ids of the messages recorded as sent (sorted), and an instant after the
// snapshot they were read in: everything they show was committed before it.
func sentBefore(t *testing.T, url string) ([]int64, time.Time) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows, _ := tx.Query(ctx, `SELECT id FROM messages WHERE sent_at IS NOT NULL ORDER BY id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return ids, at
}

// archiveLag is how long ago the last WAL segment was archived: the commits since then are what a
// server lost with its disk would take with it.
func (c *chaos) archiveLag() time.Duration {
	var lag time.Duration
	if err := c.pool.QueryRow(context.Background(), `SELECT now() - last_archived_time FROM pg_stat_archiver`).Scan(&lag); err != nil {
		c.t.Fatal(err)
	}
	return lag
}

// runScript runs scripts/name with env added to the test's, and answers the value it printed for
// key (a line KEY=value, or export KEY=value with the value maybe quoted).
func runScript(t *testing.T, env []string, key, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(scriptPath(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", name, args, err, out, stderr.String())
	}
	m := regexp.MustCompile(`(?m)^(?:export )?` + key + `='?([^'\s]+)'?$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s %v printed no %s: %s", name, args, key, out)
	}
	return string(m[1])
}

func scriptPath(t *testing.T, name string) string {
	p, err := filepath.Abs(filepath.Join("..", "scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
