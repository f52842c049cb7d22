// Package scheduler runs the periodic work of Dripcast on exactly one of its replicas, the one
// holding a Postgres advisory lock: starting and expanding broadcasts, stepping drip sequences,
// feeding due messages to the queue, recovery, and the refreshes from Meta.
package scheduler

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockKey is the advisory lock the leader holds for as long as its connection lives.
const lockKey int64 = 0x64726970 // "drip"

// Elector keeps trying to become leader and says when it is. Leadership is tied to one
// connection: if the leader dies or its connection breaks, Postgres releases the lock and another
// replica takes it on its next try.
type Elector struct {
	url      string
	log      *slog.Logger
	interval time.Duration
	leader   atomic.Bool
}

// NewElector tries for the lock every interval (and checks a held lock as often).
func NewElector(url string, log *slog.Logger, interval time.Duration) *Elector {
	return &Elector{url: url, log: log, interval: interval}
}

// IsLeader tells whether this replica holds the lock now.
func (e *Elector) IsLeader() bool { return e.leader.Load() }

// Run campaigns until ctx ends, then releases the lock. elected runs each time this replica
// becomes leader.
func (e *Elector) Run(ctx context.Context, elected func()) {
	for ctx.Err() == nil {
		e.term(ctx, elected)
		select {
		case <-ctx.Done():
		case <-time.After(e.interval):
		}
	}
}

// term connects, tries for the lock, and while it holds the lock checks the connection every
// interval. It returns when the lock is not won or is lost.
func (e *Elector) term(ctx context.Context, elected func()) {
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		e.log.Warn("scheduler election: connect failed", "err", err)
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var won bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&won); err != nil || !won {
		return
	}
	e.leader.Store(true)
	e.log.Info("scheduler: this replica is the leader")
	elected()
	defer func() {
		e.leader.Store(false)
		e.log.Info("scheduler: leadership released")
	}()
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, e.interval)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				e.log.Warn("scheduler: lost the leader connection", "err", err)
				return
			}
		}
	}
}
