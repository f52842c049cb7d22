package scheduler

// Job "retention" (hourly): each account's content older than its retention is scrubbed
// (policy.Retention): the parameters and event properties of messages done sending, and the
// properties of events, integration deliveries and finished enrollments.

import (
	"context"
	"errors"
	"time"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
)

// scrubBatch bounds one statement: rows locked briefly, a short transaction, little WAL at once.
const scrubBatch = 5000

// Retention scrubs every account's content past its retention.
func (j *Jobs) Retention(ctx context.Context) error {
	accounts, err := j.q.AccountsSettings(ctx)
	if err != nil {
		return err
	}
	var total int64
	var errs []error
	for _, a := range accounts {
		s, err := policy.ParseSettings(a.Settings)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cutoff := time.Now().AddDate(0, 0, -s.ContentDays())
		n, err := j.scrub(ctx, a.ID, cutoff)
		total += n
		errs = append(errs, err)
	}
	if total > 0 {
		j.log.Info("retention: content scrubbed", "rows", total)
	}
	return errors.Join(errs...)
}

// scrub runs each table's scrub in batches until a batch comes back short.
func (j *Jobs) scrub(ctx context.Context, account int64, cutoff time.Time) (int64, error) {
	steps := []func() (int64, error){
		func() (int64, error) {
			return j.q.ScrubMessageContent(ctx, queries.ScrubMessageContentParams{AccountID: account, Cutoff: cutoff, Lim: scrubBatch})
		},
		func() (int64, error) {
			return j.q.ScrubEventProperties(ctx, queries.ScrubEventPropertiesParams{AccountID: account, Cutoff: cutoff, Lim: scrubBatch})
		},
		func() (int64, error) {
			return j.q.ScrubDeliveryPayloads(ctx, queries.ScrubDeliveryPayloadsParams{AccountID: account, Cutoff: cutoff, Lim: scrubBatch})
		},
		func() (int64, error) {
			return j.q.ScrubEnrollmentProperties(ctx, queries.ScrubEnrollmentPropertiesParams{AccountID: account, Cutoff: &cutoff, Lim: scrubBatch})
		},
	}
	var total int64
	for _, step := range steps {
		for {
			n, err := step()
			total += n
			if err != nil {
				return total, err
			}
			if n < scrubBatch {
				break
			}
		}
	}
	return total, nil
}
