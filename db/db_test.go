package db_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/sql/migrations"
	"github.com/dripcast/dripcast/testenv"
)

// The migrations must apply to an empty database, roll back to nothing, and apply again.
func TestMigrationsUpDownUp(t *testing.T) {
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	pool, err := db.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := sqlDB.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, url, quiet); err != nil {
		t.Fatalf("up: %v", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	if n := countTables(t, sqlDB); n != 1 { // goose's own version table stays
		t.Fatalf("after down, %d tables remain, want only goose's", n)
	}
	if err := db.Migrate(ctx, url, quiet); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if n := countTables(t, sqlDB); n < 10 {
		t.Fatalf("after up, %d tables, want the whole schema", n)
	}
}

func countTables(t *testing.T, sqlDB *sql.DB) int {
	var n int
	if err := sqlDB.QueryRow("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every table that holds tenant data carries account_id (sign-in throttles are keyed by address
// or user across tenants; workers are Dripcast's own processes, serving every tenant).
func TestEveryTenantTableHasAccountID(t *testing.T) {
	pool := testenv.DB(t)
	rows, err := pool.Query(context.Background(), `
		SELECT t.tablename FROM pg_tables t
		WHERE t.schemaname = 'public' AND t.tablename NOT IN ('accounts', 'goose_db_version', 'signin_throttle', 'workers')
		  AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
		                  WHERE c.table_name = t.tablename AND c.column_name = 'account_id')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		_ = rows.Scan(&name)
		t.Errorf("table %s has no account_id", name)
	}
}

// A pool opened before the migrations (a role started before `dripcast migrate`) can pass a set
// of statuses once they ran: its connections without the enums are not kept.
func TestPoolOpenedBeforeMigrationsLoadsTheEnums(t *testing.T) {
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	empty, err := db.Open(ctx, url, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	empty.Close()
	pool, err := db.Open(ctx, url, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := db.Migrate(ctx, url, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	var n int
	states := []queries.BroadcastStatus{queries.BroadcastStatusScheduled, queries.BroadcastStatusRunning}
	if err := pool.QueryRow(ctx, "SELECT cardinality($1::broadcast_status[])", states).Scan(&n); err != nil || n != 2 {
		t.Fatalf("a set of statuses after the migrations: %d, %v", n, err)
	}
}
