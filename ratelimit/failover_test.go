package ratelimit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dripcast/dripcast/redisconn"
	"github.com/dripcast/dripcast/testenv"
)

// A replica promoted after its primary was lost may lack the primary's last writes: here the
// tier entry of a send admitted just before the loss. On the first connection to it, every
// portfolio's seed mark is dropped, so the tier is rebuilt from Postgres (which recorded that
// send) before anything is admitted, and a recipient over the tier is refused. Connections to
// the same server after that drop nothing.
func TestPromotedReplicaReseeds(t *testing.T) {
	url := testenv.RedisURL(t)
	var reads atomic.Int32
	sent := []Reached{{"a", time.Now().Add(-time.Hour)}, {"b", time.Now()}}
	usage := func(_ context.Context, portfolio int64) (Usage, error) {
		reads.Add(1)
		if portfolio != 7 {
			return Usage{}, nil
		}
		return Usage{Reached: sent}, nil
	}
	ctx := context.Background()
	connect := func() *Limiter {
		rdb, err := redisconn.New(url, OnConnect)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		return New(rdb, usage, 0, 2*time.Second)
	}
	send := func(l *Limiter, to string) Decision {
		d, err := l.Acquire(ctx, Send{PhoneNumberID: "n1", Portfolio: 7, MPS: 1000, Tier: 3, Recipient: to})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := send(connect(), "c"); !d.Allowed {
		t.Fatalf("a third recipient: %+v", d)
	}
	sent = append(sent, Reached{"c", time.Now()}) // Postgres records the send

	// The failover: the promoted replica has another replication id and lacks c's entry.
	rdb, _ := redisconn.New(url, nil)
	defer rdb.Close()
	rdb.Set(ctx, "wa:replid", "the lost primary's", 0)
	rdb.ZRem(ctx, "wa:{p7}:tier", "c")
	rdb.Set(ctx, "wa:{p8}:seeded", 0, 0)
	rdb.Set(ctx, "wa:{p8}:tier", "kept", 0)
	if d := send(connect(), "d"); d.Allowed || d.Reason != ReasonTier {
		t.Fatalf("a fourth recipient after the failover: %+v (the tier lost c)", d)
	}
	if n := reads.Load(); n != 2 {
		t.Fatalf("usage read %d times, want 2 (a first seed and one after the failover)", n)
	}
	if rdb.Exists(ctx, "wa:{p8}:seeded").Val() != 0 || rdb.Exists(ctx, "wa:{p8}:tier").Val() != 1 {
		t.Fatal("the other portfolio's mark was kept, or more than the mark dropped")
	}
	if d := send(connect(), "a"); !d.Allowed || reads.Load() != 2 {
		t.Fatalf("a counted recipient on a new connection to the same server: %+v, %d reads", d, reads.Load())
	}
}
