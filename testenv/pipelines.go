package testenv

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Pipelines is a Redis hook that counts the pipelines led by one command (by name, as go-redis
// names it: "evalsha") and holds the first of them until Release: the callers that come meanwhile
// gather behind it, so a test of batching does not depend on the scheduler's timing.
type Pipelines struct {
	name  string
	count atomic.Int64
	hold  chan struct{}
}

// HoldPipelines adds a Pipelines hook for command name to rdb.
func HoldPipelines(rdb *redis.Client, name string) *Pipelines {
	p := &Pipelines{name: name, hold: make(chan struct{})}
	rdb.AddHook(p)
	return p
}

// Release lets the first pipeline go.
func (p *Pipelines) Release() { close(p.hold) }

// Count is how many pipelines were sent.
func (p *Pipelines) Count() int64 { return p.count.Load() }

func (*Pipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*Pipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (p *Pipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == p.name && p.count.Add(1) == 1 {
			<-p.hold
		}
		return next(ctx, cmds)
	}
}
