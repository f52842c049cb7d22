// Package redispipe sends the Lua script calls of concurrent callers of a Redis client in shared
// pipelines. Asynq enqueues a task with a script call and has no batch enqueue: the feeder's
// thousands of enqueues a second each cost a round trip, a write and a read in this process and
// in Redis. Through Evals, the calls that arrive while a pipeline is out go together in the next.
package redispipe

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/batch"
)

// Calls of up to pipelineMax scripts share a pipeline, one pipeline at a time.
const pipelineMax = 64

// Evals is a Redis client whose EVALSHA calls (go-redis's Script.Run, which asynq uses) go out in
// pipelines shared with concurrent callers; every other command goes as the client sends it.
type Evals struct {
	redis.UniversalClient
	calls *batch.Batcher[evalSha, *redis.Cmd]
}

type evalSha struct {
	sha  string
	keys []string
	args []any
}

// New wraps rdb.
func New(rdb redis.UniversalClient) *Evals {
	e := &Evals{UniversalClient: rdb}
	e.calls = batch.New(1, pipelineMax, e.run)
	return e
}

// EvalSha runs the script in the next pipeline and answers its command: its error is the
// script's own (NOSCRIPT included, which Script.Run answers with an EVAL) or the pipeline's.
// The caller's context is not the pipeline's: a call waits for its pipeline, which the batch's
// own timeout bounds.
func (e *Evals) EvalSha(_ context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	cmd, err := e.calls.Do(evalSha{sha: sha, keys: keys, args: args})
	if err != nil {
		cmd = redis.NewCmd(context.Background())
		cmd.SetErr(err)
	}
	return cmd
}

func (e *Evals) run(ctx context.Context, calls []evalSha) ([]*redis.Cmd, error) {
	pipe := e.UniversalClient.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		cmds[i] = pipe.EvalSha(ctx, c.sha, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	return cmds, nil
}
