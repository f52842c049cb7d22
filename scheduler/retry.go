package scheduler

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/whatsapp"
)

// retryBatch bounds the failures decided per transaction.
const retryBatch = 1000

// Retry decides on the broadcast messages that failed since it last ran (RetrySettle ago): those
// whose failure a later attempt may mend (whatsapp.Classification.LaterAttempt), to a contact who
// still exists (and is still opted in, for a marketing template), of a broadcast whose retry
// policy has an attempt left before the broadcast expires, go pending again, due when the policy
// says (in the broadcast's send window); the others stay failed for good. A retry then goes the
// way of any send: the feeder, the claim, every limit, the opt-out check. Then it marks the
// running broadcasts that only wait for retries as retrying.
func (j *Jobs) Retry(ctx context.Context) error {
	for {
		n, err := j.retryBatch(ctx)
		if err != nil {
			return err
		}
		if n < retryBatch {
			break
		}
	}
	return j.markWaits(ctx)
}

func (j *Jobs) retryBatch(ctx context.Context) (n int, err error) {
	err = pgx.BeginFunc(ctx, j.pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		rows, err := q.UndecidedFailures(ctx, queries.UndecidedFailuresParams{Lim: retryBatch, SettleSeconds: j.RetrySettle.Seconds()})
		if err != nil {
			return err
		}
		n = len(rows)
		var arm queries.ArmRetriesParams
		var done []int64
		for _, r := range rows {
			if due, ok := j.retryAt(r); ok {
				arm.Ids, arm.Due = append(arm.Ids, r.ID), append(arm.Due, due)
			} else {
				done = append(done, r.ID)
			}
		}
		if len(done) > 0 {
			if err := q.EndRetries(ctx, done); err != nil {
				return err
			}
		}
		if len(arm.Ids) > 0 {
			return q.ArmRetries(ctx, arm)
		}
		return nil
	})
	return n, err
}

// retryAt is when a failed message goes again, or false when it does not.
func (j *Jobs) retryAt(r queries.UndecidedFailuresRow) (time.Time, bool) {
	p := policy.DecodeRetry(r.RetryPolicy)
	if !p.On() || r.ErrorCode == nil || !r.ContactExists || r.Category == "marketing" && !r.OptedIn {
		return time.Time{}, false
	}
	switch r.BroadcastStatus {
	case queries.BroadcastStatusRunning, queries.BroadcastStatusPaused, queries.BroadcastStatusCompleted:
	default:
		return time.Time{}, false // cancelled
	}
	class := whatsapp.ClassifyCode(int(*r.ErrorCode))
	if !class.LaterAttempt() {
		return time.Time{}, false
	}
	clk := j.Clock
	at, ok := p.Next(policy.Attempts{First: clk.Of(r.FirstAt), Last: clk.Of(r.LastAt), Failed: clk.Of(r.FailedAt), Done: int(r.Retries)},
		class.RetryAfter)
	if !ok {
		return time.Time{}, false
	}
	due := clk.Wall(at)
	if r.ExpiresAt != nil && due.After(*r.ExpiresAt) {
		return time.Time{}, false
	}
	return due, true
}
