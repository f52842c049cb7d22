package redispipe

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/testenv"
)

var echo = redis.NewScript(`redis.call('INCR', KEYS[1]) return ARGV[1]`)

// Concurrent script calls share pipelines, each caller gets its own answer, and a Redis that lost
// its scripts has them loaded again (Script.Run's EVAL) with each call run once.
func TestConcurrentCallsSharePipelines(t *testing.T) {
	rdb := testenv.Redis(t)
	hook := testenv.HoldPipelines(rdb, "evalsha")
	ctx := context.Background()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	e := New(rdb)
	const calls = 100
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			if got, err := echo.Run(ctx, e, []string{"n"}, i).Int(); err != nil || got != i {
				t.Errorf("call %d: %d, %v", i, got, err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the first pipeline is held: the others gather behind it
	hook.Release()
	wg.Wait()
	if n := hook.Count(); n > 4 {
		t.Fatalf("%d calls took %d pipelines, want at most 4", calls, n)
	}
	if n, _ := rdb.Get(ctx, "n").Int(); n != calls {
		t.Fatalf("the script ran %d times for %d calls", n, calls)
	}
}

// A pipeline that fails (no Redis) fails every call in it.
func TestPipelineErrorReachesEveryCaller(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	e := New(rdb)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := echo.Run(context.Background(), e, []string{"n"}, i).Err(); err == nil {
				t.Errorf("call %d: no error from a Redis that is not there", i)
			}
		})
	}
	wg.Wait()
}
