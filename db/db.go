// Package db opens Postgres pools and applies the embedded goose migrations.
package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/dripcast/dripcast/sql/migrations"
)

// Open connects a pool and checks that the server answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.AfterConnect = loadEnums
	// A connection made before the migrations lacks the enums: the pool drops it after use, so
	// one made after them takes its place (instead of after its hour-long lifetime).
	cfg.AfterRelease = func(c *pgx.Conn) bool {
		_, ok := c.TypeMap().TypeForName(enumArrays[0])
		return ok
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("reach database: %w", err)
	}
	return pool, nil
}

// enumArrays are the arrays of the schema's enums (statuses). A query that takes a set of states
// ("pause what is scheduled or running") takes one, and pgx encodes an array only of a type it
// has loaded.
var enumArrays = []string{"_broadcast_status", "_sequence_status", "_enrollment_status", "_message_status"}

// loadEnums registers the enum arrays the database has on a new connection. A database not yet
// migrated has none.
func loadEnums(ctx context.Context, conn *pgx.Conn) error {
	var present []string
	err := conn.QueryRow(ctx, "SELECT COALESCE(array_agg(typname::text), '{}') FROM pg_type WHERE typname = ANY($1)", enumArrays).Scan(&present)
	if err != nil || len(present) == 0 {
		return err
	}
	types, err := conn.LoadTypes(ctx, present)
	if err != nil {
		return fmt.Errorf("load enum types: %w", err)
	}
	conn.TypeMap().RegisterTypes(types)
	return nil
}

// Migrate applies every pending migration. A session advisory lock lets several processes start
// at once: one migrates, the others wait and find nothing left to do.
func Migrate(ctx context.Context, url string, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS,
		goose.WithSessionLocker(locker), goose.WithSlog(log))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// MigrationsHash identifies the set of migrations, so a test template built from them can be
// reused until they change.
func MigrationsHash() (string, error) {
	return hashFS(migrations.FS)
}

// RowError says a statement failed because of the data it was given (SQLSTATE class 22, a data
// exception, or 23, an integrity constraint violation, such as a repeated unique key): written
// again unchanged it fails again, while the other rows of its batch would land alone.
func RowError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"))
}
