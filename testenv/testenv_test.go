package testenv

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A database leased by a running test is never handed out again, even when the counter comes
// back to it; it is free again once its test ends.
func TestRedisLease(t *testing.T) {
	first := RedisURL(t)
	db, _ := strconv.Atoi(first[strings.LastIndex(first, "/")+1:])
	opt, _ := redis.ParseURL(first)
	opt.DB = 0
	admin := redis.NewClient(opt)
	defer admin.Close()
	ctx := context.Background()
	if err := admin.Set(ctx, "dripcast:testenv:next-db", db-1, 0).Err(); err != nil { // the next turn is first's
		t.Fatal(err)
	}
	if second := RedisURL(t); second == first {
		t.Fatalf("database %d handed out twice", db)
	}
	if n, _ := admin.Exists(ctx, "dripcast:testenv:lease:"+strconv.Itoa(db)).Result(); n != 1 {
		t.Fatal("no lease is held for a database in use")
	}
}
