// Package redisconn makes Dripcast's Redis clients from DRIPCAST_REDIS_URL: one Redis server, or a
// primary that Redis Sentinel watches and replaces with a replica when it is lost.
package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// New makes a client for rawURL without connecting. A URL with a master_name parameter names
// Sentinels (go-redis's failover form):
//
//	redis://[user:password@]sentinel1:26379[/db]?master_name=NAME&addr=sentinel2:26379&addr=sentinel3:26379[&password=…]
//
// where the URL's own credentials are the Sentinels' and the password parameter the primary's; the
// client asks the Sentinels for the primary and follows a failover. Any other URL is one server's
// (redis:// or rediss://). onConnect, if given, runs on every new connection before its first use.
func New(rawURL string, onConnect func(context.Context, *redis.Conn) error) (*redis.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("DRIPCAST_REDIS_URL: %w", err)
	}
	if u.Query().Has("master_name") {
		opt, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("DRIPCAST_REDIS_URL (Sentinel): %w", err)
		}
		if opt.MasterName == "" {
			return nil, fmt.Errorf("DRIPCAST_REDIS_URL (Sentinel): master_name is empty")
		}
		opt.OnConnect = onConnect
		return redis.NewFailoverClient(opt), nil
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("DRIPCAST_REDIS_URL: %w", err)
	}
	opt.OnConnect = onConnect
	return redis.NewClient(opt), nil
}

// Open is New, then a PING: the process fails at its start, not at its first task, when Redis
// cannot be reached.
func Open(ctx context.Context, rawURL string, onConnect func(context.Context, *redis.Conn) error) (*redis.Client, error) {
	rdb, err := New(rawURL, onConnect)
	if err != nil {
		return nil, err
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("reach redis: %w", err)
	}
	return rdb, nil
}

// ReplicationID is the replication id of the Redis that c talks to (INFO replication's
// master_replid): a replica promoted to primary, or a server restarted, has a new one. It is
// empty when the server does not tell (INFO restricted) or cannot be asked.
func ReplicationID(ctx context.Context, c interface {
	Info(context.Context, ...string) *redis.StringCmd
}) string {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return ""
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_replid:"); ok {
			return v
		}
	}
	return ""
}

// LogTo sends go-redis's own messages (a Sentinel naming a new primary, a failed dial) to log, at
// info level, instead of the standard logger's plain lines on stderr.
func LogTo(log *slog.Logger) { redis.SetLogger(goRedisLog{log}) }

type goRedisLog struct{ log *slog.Logger }

func (l goRedisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.InfoContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
