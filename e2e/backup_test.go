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
// started: every row committed before the instant is there (each table's ids, and the sends
// recorded), and none of the sends recorded after it. The log says what RPO and RTO to expect:
// the archive's lag while the broadcast sent, and how long the restore took.
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

	before, at := snapshot(t, dbURL)
	lag := c.archiveLag()
	c.sending(1000) // sends recorded after the instant, which the restore must not have
	start := time.Now()
	// pgBackRest reads milliseconds: the next one after the instant, so nothing before it is cut.
	target := at.UTC().Truncate(time.Millisecond).Add(time.Millisecond).Format("2006-01-02 15:04:05.000-07:00")
	restored := runScript(t, nil, "RESTORED_URL", "backup.sh", "restore", dir, target)
	rto := time.Since(start)
	after, _ := snapshot(t, restored)
	rows := 0
	for table, ids := range before {
		if missing := len(slices.DeleteFunc(slices.Clone(ids), func(id int64) bool { _, ok := slices.BinarySearch(after[table], id); return ok })); missing > 0 {
			t.Errorf("%s: %d of the %d rows committed before %s are not in the restore", table, missing, len(ids), at)
		}
		rows += len(ids)
	}
	sent, got := len(before[sentRows]), len(after[sentRows])
	if extra := got - sent; extra > sent/100 { // commits in the instant between the snapshot and its time
		t.Fatalf("the restore holds %d sends, %d more than were recorded at %s", got, extra, at)
	}
	t.Logf("restored %d rows of %d tables (%d sends) to %s in %s (RTO, on this machine); the archive lagged %s behind (RPO: at most archive_timeout, 30 s)",
		rows, len(before)-1, sent, at.Format(time.TimeOnly), rto.Round(time.Millisecond), lag.Round(time.Millisecond))
}

// sentRows names the sends recorded (messages with sent_at) in a snapshot.
const sentRows = "messages sent"

// snapshot reads, in one snapshot, the ids of every table that has an id column (sorted), and of
// the sends recorded; and an instant after that snapshot: everything it shows was committed
// before that instant.
func snapshot(t *testing.T, url string) (map[string][]int64, time.Time) {
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
	// The transaction's snapshot is taken by its first statement, this one: the instant read in it
	// follows the snapshot by microseconds, however long the reads below take.
	var at time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&at); err != nil {
		t.Fatal(err)
	}
	rows, _ := tx.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped AND a.atttypid IN ('int4'::regtype, 'int8'::regtype)
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 10 {
		t.Fatalf("tables %v: %v", tables, err)
	}
	queries := map[string]string{sentRows: `SELECT id FROM messages WHERE sent_at IS NOT NULL ORDER BY id`}
	for _, table := range tables {
		queries[table] = `SELECT id::bigint FROM ` + pgx.Identifier{table}.Sanitize() + ` ORDER BY id`
	}
	out := map[string][]int64{}
	for name, q := range queries {
		rows, _ := tx.Query(ctx, q)
		if out[name], err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return out, at
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
