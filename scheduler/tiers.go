package scheduler

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
)

// Tiers publishes each portfolio's messaging tier and how much of it the moving 24 hours used,
// as the shared limiter counts it in Redis.
func (j *Jobs) Tiers(ctx context.Context, limits *ratelimit.Limiter) error {
	portfolios, err := j.q.PortfolioTiers(ctx)
	if err != nil {
		return err
	}
	for _, p := range portfolios {
		label := strconv.FormatInt(p.ID, 10)
		used, err := limits.TierUsage(ctx, p.ID)
		if err != nil {
			return err
		}
		j.metrics.TierUsed.WithLabelValues(label).Set(float64(used))
		if p.TierLimit == nil {
			j.metrics.TierLimit.DeleteLabelValues(label) // unlimited
		} else {
			j.metrics.TierLimit.WithLabelValues(label).Set(float64(*p.TierLimit))
		}
	}
	return nil
}

// spreadAtOnce bounds the held messages of a portfolio given their own time per run; the rest wait
// for the last of those times, and are spread on a later run.
const spreadAtOnce = 10_000

// TierWaits spreads the messages each portfolio's tier holds over the times its slots free (as
// each counted recipient's 24 h passes), rather than all at the first, and marks the running
// broadcasts whose only unsent messages are those as waiting for the tier (markWaits).
func (j *Jobs) TierWaits(ctx context.Context, limits *ratelimit.Limiter) error {
	held, err := j.q.TierHeldPortfolios(ctx, spreadAtOnce)
	if err != nil {
		return err
	}
	for _, p := range held {
		times, err := tierTimes(ctx, limits, p)
		if err != nil {
			return err
		}
		if err := j.q.SpreadTierHeld(ctx, queries.SpreadTierHeldParams{PortfolioID: p.PortfolioID, Times: times}); err != nil {
			return err
		}
	}
	return j.markWaits(ctx)
}

// tierTimes are the times a portfolio's held messages may go, in order: now for the room its tier
// has (raised, or slots freed), then as its counted recipients' 24 h pass.
func tierTimes(ctx context.Context, limits *ratelimit.Limiter, p queries.TierHeldPortfoliosRow) ([]time.Time, error) {
	now, held := time.Now(), int(p.Held)
	if p.TierLimit == nil {
		return []time.Time{now}, nil // unlimited now: every held one goes
	}
	used, err := limits.TierUsage(ctx, p.PortfolioID)
	if err != nil {
		return nil, err
	}
	room := min(held, max(0, int(*p.TierLimit)-int(used)))
	frees, err := limits.TierFrees(ctx, p.PortfolioID, held-room)
	if err != nil {
		return nil, err
	}
	times := slices.Repeat([]time.Time{now}, room)
	if times = append(times, frees...); len(times) == 0 {
		times = []time.Time{now.Add(time.Minute)} // nothing counted, no room: look again soon
	}
	return times, nil
}

// markWaits marks the running broadcasts whose only unsent messages wait for the tier or for a
// retry (and unmarks the others): the tier-wait and retry jobs run it after their changes.
func (j *Jobs) markWaits(ctx context.Context) error {
	if err := j.q.MarkWaits(ctx); err != nil {
		return err
	}
	return j.q.ClearWaits(ctx)
}
