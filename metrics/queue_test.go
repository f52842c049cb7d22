package metrics

import (
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dripcast/dripcast/testenv"
)

// The collector reads Asynq's queues from Redis when scraped.
func TestQueueCollector(t *testing.T) {
	rdb := testenv.Redis(t)
	c := NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb))
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP dripcast_queue_up 1 when Redis answered the queue inspection.
# TYPE dripcast_queue_up gauge
dripcast_queue_up 1
`)); err != nil {
		t.Fatalf("no queue yet: %v", err)
	}
	client := asynq.NewClientFromRedisClient(rdb)
	for range 2 {
		if _, err := client.Enqueue(asynq.NewTask("send", nil), asynq.Queue("send")); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP dripcast_queue_tasks Asynq tasks by queue and state (pending, active, scheduled, retry, archived).
# TYPE dripcast_queue_tasks gauge
dripcast_queue_tasks{queue="send",state="active"} 0
dripcast_queue_tasks{queue="send",state="archived"} 0
dripcast_queue_tasks{queue="send",state="pending"} 2
dripcast_queue_tasks{queue="send",state="retry"} 0
dripcast_queue_tasks{queue="send",state="scheduled"} 0
`), "dripcast_queue_tasks"); err != nil {
		t.Fatal(err)
	}
}
