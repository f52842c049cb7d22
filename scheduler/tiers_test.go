package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/worker"
)

// The tier gauges show each portfolio's limit and the unique recipients the limiter admitted.
func TestTierGauges(t *testing.T) {
	pool := testenv.DB(t)
	ctx := context.Background()
	var limited, unlimited int64
	if err := pool.QueryRow(ctx, `WITH a AS (INSERT INTO accounts (name) VALUES ('a') RETURNING id),
		p AS (INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'p', 250 FROM a RETURNING id)
		SELECT id FROM p`).Scan(&limited); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO portfolios (account_id, name, tier_limit) SELECT id, 'q', NULL FROM accounts RETURNING id`).Scan(&unlimited); err != nil {
		t.Fatal(err)
	}
	limits := ratelimit.New(testenv.Redis(t), worker.PortfolioUsage(pool), time.Second, time.Second)
	for i := range 3 {
		d, err := limits.Acquire(ctx, ratelimit.Send{PhoneNumberID: "1001", Portfolio: limited, MPS: 100, Tier: 250, Recipient: fmt.Sprint("1415555010", i)})
		if err != nil || !d.Allowed {
			t.Fatalf("acquire: %+v %v", d, err)
		}
	}
	m := metrics.New(prometheus.NewRegistry())
	jobs := NewJobs(pool, nil, nil, quiet, m)
	if err := jobs.Tiers(ctx, limits); err != nil {
		t.Fatal(err)
	}
	label := fmt.Sprint(limited)
	if used, limit := testutil.ToFloat64(m.TierUsed.WithLabelValues(label)), testutil.ToFloat64(m.TierLimit.WithLabelValues(label)); used != 3 || limit != 250 {
		t.Errorf("limited portfolio: used %v of %v", used, limit)
	}
	if n := testutil.CollectAndCount(m.TierLimit); n != 1 {
		t.Errorf("%d tier limits published; the unlimited portfolio has none", n)
	}
}
