package scheduler

// Job "settle" (every second): a worker that stopped beating is fenced, the sends it provably
// never wrote go back to the queue and the rest of its claims are unknown; an unknown send that
// the grace period and later sends' statuses show Meta never took is not_sent (or sent again,
// when its account opted in). Nothing that may have reached Meta is ever sent again on a guess.

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/sendtask"
)

// Settle runs both rules; see the README's runbook for the states.
func (j *Jobs) Settle(ctx context.Context) error {
	dead, err := j.q.FenceDeadWorkers(ctx, j.WorkerDeadAfter.Seconds())
	if err != nil {
		return err
	}
	for _, w := range dead {
		if err := j.settleWorker(ctx, w); err != nil {
			return err
		}
	}
	if time.Since(j.graceLooked) < graceEvery {
		return nil
	}
	j.graceLooked = time.Now()
	rows, err := j.q.SettleAfterGrace(ctx, j.UnknownGrace.Seconds())
	if err != nil {
		return err
	}
	var resend []queries.RequeueUnwrittenRow
	for _, r := range rows {
		if r.Resend != nil && *r.Resend {
			resend = append(resend, queries.RequeueUnwrittenRow{ID: r.ID, Attempts: r.Attempts})
		}
	}
	if len(rows) > 0 {
		j.metrics.Unknown.WithLabelValues("grace").Add(float64(len(rows)))
		j.log.Warn("unknown sends concluded not sent after the grace period", "count", len(rows), "sent_again", len(resend))
	}
	return j.enqueueAgain(ctx, resend)
}

// graceEvery is how often the grace rule looks for evidence: a fraction of any sensible grace
// period, and each look reads deliveries.
const graceEvery = 5 * time.Second

// settleWorker settles what a fenced worker had claimed. Its beats listed the sends waiting for
// a slot; it wrote none whose slot was more than the fence margin after its last recorded beat
// (worker.Heart), so those go back to the queue. The rest may have reached Meta: unknown.
func (j *Jobs) settleWorker(ctx context.Context, w queries.FenceDeadWorkersRow) error {
	requeued, err := j.q.RequeueUnwritten(ctx, queries.RequeueUnwrittenParams{Ids: w.PendingIds, Slots: w.PendingSlots,
		After: w.BeatAt.Add(sendtask.FenceMargin), WorkerID: w.ID})
	if err != nil {
		return err
	}
	unknown, err := j.q.UnknownOfWorker(ctx, w.ID)
	if err != nil {
		return err
	}
	j.metrics.Unknown.WithLabelValues("requeued").Add(float64(len(requeued)))
	j.metrics.Unknown.WithLabelValues("worker_lost").Add(float64(unknown))
	j.log.Warn("a worker stopped beating: fenced", "worker", w.ID, "requeued", len(requeued), "unknown", unknown)
	return j.enqueueAgain(ctx, requeued)
}

// enqueueAgain gives each message a task of its own attempt: a dead worker's task of the message
// may still be in Redis, under the message's first task id.
func (j *Jobs) enqueueAgain(ctx context.Context, rows []queries.RequeueUnwrittenRow) error {
	var errs []error
	for _, r := range rows {
		task, opts := sendtask.Retry(r.ID, int(r.Attempts))
		if _, err := j.queue.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			errs = append(errs, err) // the row stays queued: Recover enqueues it again
		}
	}
	return errors.Join(errs...)
}
