package ratelimit

import (
	"context"
	_ "embed"

	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/redisconn"
)

//go:embed failover.lua
var failoverLua string

var failoverScript = redis.NewScript(failoverLua)

// OnConnect is the limiter's Redis connection hook (redisconn.New's onConnect): on a connection
// to a Redis other than the one the portfolios were seeded on — a replica that Sentinel promoted
// after the primary was lost — it drops every seed mark before the connection is used, so each
// portfolio reseeds from Postgres what the primary may have taken with it. A server that does
// not tell its replication id (INFO restricted) is taken as it is.
func OnConnect(ctx context.Context, cn *redis.Conn) error {
	id := redisconn.ReplicationID(ctx, cn)
	if id == "" {
		return nil
	}
	return failoverScript.Run(ctx, cn, []string{"wa:replid"}, id).Err()
}
