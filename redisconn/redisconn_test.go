package redisconn

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/testenv"
)

func TestURLs(t *testing.T) {
	for _, tc := range []struct{ url, err string }{
		{"redis://127.0.0.1:26379/2?master_name=dripcast&addr=127.0.0.1:26380&addr=127.0.0.1:26381&password=p", ""},
		{"rediss://user:pw@sentinel.example:26379?master_name=dripcast", ""},
		{"redis://127.0.0.1:6379/0", ""},
		{"redis://127.0.0.1:26379?master_name=", "master_name is empty"},
		{"redis://127.0.0.1:26379?master_name=x&addr=nohost", "addr"},
		{"redis://127.0.0.1:26379/x?master_name=x", "database"},
		{"redis-sentinel://127.0.0.1:26379", "scheme"},
		{"://", "missing protocol scheme"},
	} {
		rdb, err := New(tc.url, nil)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "DRIPCAST_REDIS_URL")):
			t.Errorf("%s: error %v, want one about %q", tc.url, err, tc.err)
		}
		if rdb != nil {
			rdb.Close()
		}
	}
}

// The hook runs on each new connection, before its first command.
func TestOpenRunsTheHook(t *testing.T) {
	var ran int
	rdb, err := Open(context.Background(), testenv.RedisURL(t), func(ctx context.Context, cn *redis.Conn) error {
		ran++
		return cn.Set(ctx, "hooked", 1, 0).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if ran != 1 || rdb.Get(context.Background(), "hooked").Val() != "1" {
		t.Fatalf("hook ran %d times", ran)
	}
	if _, err := Open(context.Background(), "redis://127.0.0.1:1/0", nil); err == nil || !strings.Contains(err.Error(), "reach redis") {
		t.Fatalf("an unreachable Redis: %v", err)
	}
}

// go-redis's own messages go to the process's log.
func TestLogTo(t *testing.T) {
	var buf bytes.Buffer
	LogTo(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer LogTo(slog.Default())
	if _, err := Open(context.Background(), "redis://127.0.0.1:1/0", nil); err == nil {
		t.Fatal("reached a Redis on port 1")
	}
	if !strings.Contains(buf.String(), `"msg":"redis: `) {
		t.Fatalf("go-redis logged %q", buf.String())
	}
}
