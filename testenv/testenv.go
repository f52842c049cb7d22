// Package testenv gives each test its own migrated Postgres database and its own Redis database,
// on the real servers that scripts/services.sh starts (or those DRIPCAST_DATABASE_URL and
// DRIPCAST_REDIS_URL point at; the Postgres user needs CREATEDB).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/secrets"
)

func env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts Postgres and Redis", name)
	}
	return v
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// DatabaseURL creates a database for this test, cloned from a template that holds every
// migration (built once per set of migrations), and drops it when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	admin := env(t, "DRIPCAST_DATABASE_URL")
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(admin) })
	if templateErr != nil {
		t.Fatalf("test database template: %v", templateErr)
	}
	name := "test_" + randomHex(8)
	ctx := context.Background()
	exec(t, ctx, admin, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateName))
	t.Cleanup(func() {
		exec(t, context.Background(), admin, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return withDatabaseURL(admin, name)
}

// DB is a pool on a fresh database for this test, closed when the test ends.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), DatabaseURL(t), 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func exec(t testing.TB, ctx context.Context, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// ensureTemplate builds the template under an advisory lock, because the test binaries of several
// packages run at once. It migrates a scratch database and renames it, so a crash never leaves a
// half-migrated template behind.
func ensureTemplate(admin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hash, err := db.MigrationsHash()
	if err != nil {
		return "", err
	}
	name := "dripcast_template_" + hash
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(734201)"); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(734201)") //nolint:errcheck // closing the connection unlocks too
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil || exists {
		return name, err
	}
	scratch := "dripcast_scratch_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return "", err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Migrate(ctx, withDatabaseURL(admin, scratch), quiet); err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", scratch, name))
	return name, err
}

func withDatabaseURL(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RedisURL hands this test a Redis database of its own, flushed before use. Databases are taken
// in turn from a counter and leased: a key in database 0 holds each one until its test ends (an
// hour, for a test killed midway), so a long test is never wiped by a later one, even when the
// counter wraps around.
func RedisURL(t testing.TB) string {
	t.Helper()
	base := env(t, "DRIPCAST_REDIS_URL")
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("DRIPCAST_REDIS_URL: %v", err)
	}
	ctx := context.Background()
	opt.DB = 0
	admin := redis.NewClient(opt)
	defer admin.Close()
	count := 16
	if v, err := admin.ConfigGet(ctx, "databases").Result(); err == nil {
		if n, err := strconv.Atoi(v["databases"]); err == nil {
			count = n
		}
	}
	opt.DB = leaseDB(t, admin, count)
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + strconv.Itoa(opt.DB)
	return u.String()
}

// leaseDB takes the next Redis database (1 to count-1) that no running test holds.
func leaseDB(t testing.TB, admin *redis.Client, count int) int {
	t.Helper()
	ctx := context.Background()
	for range count - 1 {
		n, err := admin.Incr(ctx, "dripcast:testenv:next-db").Result()
		if err != nil {
			t.Fatalf("redis: %v", err)
		}
		db := 1 + int(n-1)%(count-1)
		lease := "dripcast:testenv:lease:" + strconv.Itoa(db)
		taken, err := admin.SetNX(ctx, lease, t.Name(), time.Hour).Result()
		if err != nil {
			t.Fatalf("redis: %v", err)
		}
		if taken {
			opt := *admin.Options()
			t.Cleanup(func() {
				c := redis.NewClient(&opt)
				defer c.Close()
				c.Del(context.Background(), lease)
			})
			return db
		}
	}
	t.Fatalf("every one of Redis's %d databases is leased by a running test", count-1)
	return 0
}

// Redis is a client on this test's own Redis database, closed when the test ends.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, _ := redis.ParseURL(RedisURL(t))
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Secrets is a secrets box with a fresh key.
func Secrets(t testing.TB) *secrets.Box {
	t.Helper()
	b, err := secrets.New(secrets.NewKey("test"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FreeAddr is a loopback address with a port nothing listens on, for a server the test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Eventually polls cond until it holds, and fails the test if it does not within d.
func Eventually(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
