package scheduler

import (
	"context"
	"strconv"

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
