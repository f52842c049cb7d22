// Package config reads Dripcast's settings from DRIPCAST_* environment variables.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/ratelimit"
)

// Config is every setting of every role. The README lists each variable.
type Config struct {
	DatabaseURL       string        // DRIPCAST_DATABASE_URL
	ReplicaURL        string        // DRIPCAST_DATABASE_REPLICA_URL: optional, for reports and exports
	RedisURL          string        // DRIPCAST_REDIS_URL
	HTTPAddr          string        // DRIPCAST_HTTP_ADDR
	LogFormat         string        // DRIPCAST_LOG_FORMAT: json or text
	LogLevel          slog.Level    // DRIPCAST_LOG_LEVEL: debug, info, warn, error
	ShutdownTimeout   time.Duration // DRIPCAST_SHUTDOWN_TIMEOUT
	MaxBodyBytes      int64         // DRIPCAST_MAX_BODY_BYTES: JSON request bodies
	ImportMaxBytes    int64         // DRIPCAST_IMPORT_MAX_BYTES: one contact import
	ImportMaxRows     int           // DRIPCAST_IMPORT_MAX_ROWS: one contact import
	DBMaxConns        int32         // DRIPCAST_DB_MAX_CONNS
	WorkerConcurrency int           // DRIPCAST_WORKER_CONCURRENCY: send handlers per worker process
	WorkerServers     int           // DRIPCAST_WORKER_SERVERS: Asynq servers sharing them
	SecretKeys        string        // DRIPCAST_SECRET_KEYS: "id:base64key,…", the first seals
	MetaBaseURL       string        // DRIPCAST_META_BASE_URL: Graph API, or metasim
	MetaAPIVersion    string        // DRIPCAST_META_API_VERSION
	MetaTimeout       time.Duration // DRIPCAST_META_TIMEOUT: one Cloud API call
	PairInterval      time.Duration // DRIPCAST_PAIR_INTERVAL: least time between two messages to one user
	// SendTolerance is how late after its throughput slot a send may still be written; a later
	// one takes a new slot. Above 15 ms the limiter spaces slots further to cover it: on a starved
	// machine, fewer slots lost to late wakes at a lower rate.
	SendTolerance  time.Duration // DRIPCAST_SEND_TOLERANCE
	SendingTimeout time.Duration // DRIPCAST_SENDING_TIMEOUT: a send this long in sending lost its worker
	// WorkerDeadAfter: a worker process not heard from for this long is fenced and its claims
	// settled; UnknownGrace: an unknown send this old, with later sends of its number reported by
	// Meta, is concluded not sent.
	WorkerDeadAfter    time.Duration // DRIPCAST_WORKER_DEAD_AFTER
	UnknownGrace       time.Duration // DRIPCAST_UNKNOWN_GRACE
	WebhookVerifyToken string        // DRIPCAST_WEBHOOK_VERIFY_TOKEN: Meta's subscription check
	// DripTimeScale runs sequence delays this many times faster (1 in production): for demos, in
	// one `serve` process, whose clock it starts.
	DripTimeScale int // DRIPCAST_DRIP_TIME_SCALE
	// TrustedProxies may set X-Forwarded-For (CIDR ranges or addresses, comma-separated).
	TrustedProxies []netip.Prefix // DRIPCAST_TRUSTED_PROXIES
	KeyRateLimit   int            // DRIPCAST_KEY_RATE_LIMIT: requests a second per API key and process
	KeyBurst       int            // DRIPCAST_KEY_BURST
	// PprofAddr serves net/http/pprof for profiling; empty (the default) serves nothing.
	PprofAddr string // DRIPCAST_PPROF_ADDR
	// MetricsAddr serves /metrics to anyone who reaches it; empty (the default) serves it on
	// HTTPAddr to loopback callers only, since it shows every tenant's counts.
	MetricsAddr string // DRIPCAST_METRICS_ADDR
	// PublicURL is where people reach the console (one-time sign-in links point there); the
	// default is http:// and HTTPAddr.
	PublicURL string // DRIPCAST_PUBLIC_URL
}

// Load reads the environment; a malformed value is an error naming the variable.
func Load() (Config, error) {
	p := parser{}
	c := Config{
		DatabaseURL:        p.str("DRIPCAST_DATABASE_URL", ""),
		ReplicaURL:         p.str("DRIPCAST_DATABASE_REPLICA_URL", ""),
		RedisURL:           p.str("DRIPCAST_REDIS_URL", "redis://127.0.0.1:6379/0"),
		HTTPAddr:           p.str("DRIPCAST_HTTP_ADDR", "127.0.0.1:8080"),
		LogFormat:          p.oneOf("DRIPCAST_LOG_FORMAT", "text", "json", "text"),
		LogLevel:           p.level("DRIPCAST_LOG_LEVEL"),
		ShutdownTimeout:    p.duration("DRIPCAST_SHUTDOWN_TIMEOUT", 20*time.Second),
		MaxBodyBytes:       int64(p.integer("DRIPCAST_MAX_BODY_BYTES", 1<<20)),
		ImportMaxBytes:     int64(p.integer("DRIPCAST_IMPORT_MAX_BYTES", 512<<20)),
		ImportMaxRows:      p.integer("DRIPCAST_IMPORT_MAX_ROWS", 2_000_000),
		DBMaxConns:         int32(p.integer("DRIPCAST_DB_MAX_CONNS", 20)),
		WorkerConcurrency:  p.integer("DRIPCAST_WORKER_CONCURRENCY", 200),
		WorkerServers:      p.integer("DRIPCAST_WORKER_SERVERS", 4),
		SecretKeys:         p.str("DRIPCAST_SECRET_KEYS", ""),
		MetaBaseURL:        p.str("DRIPCAST_META_BASE_URL", "https://graph.facebook.com"),
		MetaAPIVersion:     p.str("DRIPCAST_META_API_VERSION", "v23.0"),
		MetaTimeout:        p.duration("DRIPCAST_META_TIMEOUT", 15*time.Second),
		PairInterval:       p.duration("DRIPCAST_PAIR_INTERVAL", 6*time.Second),
		SendTolerance:      p.duration("DRIPCAST_SEND_TOLERANCE", ratelimit.DefaultTolerance),
		SendingTimeout:     p.duration("DRIPCAST_SENDING_TIMEOUT", 5*time.Minute),
		WorkerDeadAfter:    p.duration("DRIPCAST_WORKER_DEAD_AFTER", 5*time.Second),
		UnknownGrace:       p.duration("DRIPCAST_UNKNOWN_GRACE", 15*time.Minute),
		WebhookVerifyToken: p.str("DRIPCAST_WEBHOOK_VERIFY_TOKEN", ""),
		DripTimeScale:      p.integer("DRIPCAST_DRIP_TIME_SCALE", 1),
		TrustedProxies:     p.prefixes("DRIPCAST_TRUSTED_PROXIES"),
		KeyRateLimit:       p.integer("DRIPCAST_KEY_RATE_LIMIT", 50),
		KeyBurst:           p.integer("DRIPCAST_KEY_BURST", 100),
		PprofAddr:          p.str("DRIPCAST_PPROF_ADDR", ""),
		MetricsAddr:        p.str("DRIPCAST_METRICS_ADDR", ""),
	}
	c.PublicURL = strings.TrimRight(p.str("DRIPCAST_PUBLIC_URL", "http://"+c.HTTPAddr), "/")
	if p.err == nil && c.DatabaseURL == "" {
		p.err = fmt.Errorf("DRIPCAST_DATABASE_URL is required (for example postgres://user@127.0.0.1:5432/dripcast)")
	}
	return c, p.err
}

// DripClock is the drip engine's clock: the wall clock, or a scaled one for demos.
func (c Config) DripClock() clock.Clock {
	if c.DripTimeScale <= 1 {
		return clock.Real{}
	}
	return clock.NewScaled(float64(c.DripTimeScale))
}

// Logger builds the process logger the configuration asks for.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parser keeps the first error so Load reads like a list of settings.
type parser struct{ err error }

func (p *parser) str(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

func (p *parser) fail(name, v, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s=%q: want %s", name, v, want)
	}
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, v, "one of "+strings.Join(allowed, ", "))
	return def
}

func (p *parser) integer(name string, def int) int {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		p.fail(name, v, "a positive whole number")
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(name, v, "a duration such as 20s")
		return def
	}
	return d
}

func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range strings.Split(p.str(name, ""), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		pre, err := iprange.Parse(v)
		if err != nil {
			p.fail(name, v, "addresses or CIDR ranges, comma-separated")
			return nil
		}
		out = append(out, pre)
	}
	return out
}

func (p *parser) level(name string) slog.Level {
	var l slog.Level
	v := p.str(name, "info")
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(name, v, "debug, info, warn or error")
	}
	return l
}
