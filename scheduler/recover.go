package scheduler

// Job "recover" (every 10 s): tasks Redis lost are enqueued again, and messages whose worker
// died are settled.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/redisconn"
	"github.com/dripcast/dripcast/sendtask"
)

// redisMark is a key Recover keeps in Redis, holding the replication id of the server it was set
// on: when it is gone, Redis lost its data (wiped, or restarted without persistence), and every
// task with it; when it holds another id, another server took over (a replica that Sentinel
// promoted, which may lack the primary's last writes: tasks enqueued, moved or done), or the
// server restarted from a snapshot older than its last writes.
const redisMark = "dripcast:redis-mark"

// Recover re-enqueues messages queued long ago whose task was lost, and marks messages stuck in
// sending (a worker died mid-send) unknown: never sent again blindly.
//
// It looks at every queued message, however recent, on its first run in a process, and on every
// run for LostAfter after Redis lost its data (or some of it) while this process led. The first
// run is on a new leader, and a leader killed between marking messages queued and enqueueing them
// would otherwise hold them up for LostAfter. After a loss every task is gone, and a worker busy
// with a task then hands its message back to the queue later, when the retry of that task fails
// (Asynq no longer knows it): sweeping for a while finds those too. A mark missing at a leader's
// first run may be Redis's first use, so it gets the one sweep of a new leader, not the while:
// each sweep enqueues every queued message again (a few seconds of every number's sending), and
// taking every fresh Redis for a lost one made sends dearer for a minute (BenchmarkSends). The
// first run comes as the leader is elected (an eager job), not up to 10 s later, so a loss in a
// leader's first seconds is told as one too. Enqueueing is idempotent (the task id is the
// message's), and the claim guards the rest.
func (j *Jobs) Recover(ctx context.Context) error {
	mark, err := j.rdb.Get(ctx, redisMark).Result()
	missing := errors.Is(err, redis.Nil)
	if err != nil && !missing {
		return err
	}
	id := redisconn.ReplicationID(ctx, j.rdb)
	now := time.Now()
	switch {
	case missing && j.markSeen, !missing && mark != id: // Redis lost its data, or some of it
		j.sweepUntil = now.Add(j.LostAfter)
	case j.sweepUntil.IsZero(): // a new leader
		j.sweepUntil = now
	}
	lostAfter := j.LostAfter
	if !now.After(j.sweepUntil) {
		lostAfter = 0
	}
	stuck, err := j.q.StuckQueued(ctx, int32(lostAfter.Seconds()))
	if err != nil {
		return err
	}
	if err := j.enqueue(ctx, stuck); err != nil {
		return err
	}
	if missing || mark != id {
		if err := j.rdb.Set(ctx, redisMark, id, 0).Err(); err != nil {
			return err
		}
		if len(stuck) > 0 {
			j.log.Warn("Redis had lost its data, or another server took over (or this is its first use): queued messages enqueued again", "count", len(stuck))
		}
	}
	j.markSeen = true
	if err := j.requeueOrphans(ctx); err != nil {
		return err
	}
	n, err := j.q.MarkStuckSendingUnknown(ctx, int32(j.SendingTimeout.Seconds()))
	if n > 0 {
		j.log.Warn("messages stuck in sending marked unknown", "count", n)
	}
	return errors.Join(err, j.q.ForgetWorkers(ctx))
}

// requeueOrphans gives a new task to each message whose task a dead worker left active: Asynq
// itself retries such a task only minutes later (its lease lasts 30 s, then its recoverer looks
// once a minute and backs off). The old task, if Asynq runs it after all, finds its message no
// longer queued and does nothing.
func (j *Jobs) requeueOrphans(ctx context.Context) error {
	active, err := j.tasks.ListActiveTasks(sendtask.Queue, asynq.PageSize(10000))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil // nothing was ever enqueued
	}
	if err != nil {
		return fmt.Errorf("list active tasks: %w", err)
	}
	var errs []error
	for _, t := range active {
		if !t.IsOrphaned {
			continue
		}
		id, err := sendtask.MessageID(t.Payload)
		if err != nil {
			continue
		}
		task, opts := sendtask.Retry(id, t.Retried+1) // an id the dead worker's task does not hold
		if _, err := j.queue.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
