package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/api"
	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/config"
	"github.com/dripcast/dripcast/console"
	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/people"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/redisconn"
	"github.com/dripcast/dripcast/scheduler"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/whatsapp"
	"github.com/dripcast/dripcast/worker"
)

type role int

const (
	roleAPI role = iota
	roleScheduler
	roleWorker
)

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	return db.Migrate(ctx, cfg.DatabaseURL, log)
}

// runRoles starts the roles asked for, and an HTTP server: the whole API when the api role runs,
// else only /healthz, /readyz and /metrics. It stops everything on SIGINT or SIGTERM.
func runRoles(ctx context.Context, cfg config.Config, log *slog.Logger, roles ...role) error {
	pool, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	var replica *pgxpool.Pool
	if cfg.ReplicaURL != "" {
		if replica, err = db.Open(ctx, cfg.ReplicaURL, cfg.DBMaxConns); err != nil {
			return fmt.Errorf("DRIPCAST_DATABASE_REPLICA_URL: %w", err)
		}
		defer replica.Close()
	}
	redisconn.LogTo(log)
	rdb, err := redisconn.Open(ctx, cfg.RedisURL, ratelimit.OnConnect)
	if err != nil {
		return err
	}
	defer rdb.Close()

	if cfg.SecretKeys == "" {
		return errors.New("DRIPCAST_SECRET_KEYS is required: it encrypts Meta tokens at rest (make one with: echo \"k1:$(openssl rand -base64 32)\")")
	}
	box, err := secrets.New(cfg.SecretKeys)
	if err != nil {
		return fmt.Errorf("DRIPCAST_SECRET_KEYS: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sending := metrics.New(reg)
	drips := drip.New(pool, cfg.DripClock(), log, sending) // one clock for the API and the scheduler of this process
	meta := whatsapp.NewClient(cfg.MetaBaseURL, cfg.MetaAPIVersion, cfg.MetaTimeout)
	pages := console.New(pool, log, console.Options{Secrets: box, Meta: meta, TrustedProxies: cfg.TrustedProxies, PublicURL: cfg.PublicURL,
		ImportMaxBytes: cfg.ImportMaxBytes, ImportMaxRows: cfg.ImportMaxRows, Drips: drips, Replica: replica, Redis: rdb})
	srv := api.New(pool, rdb, log, api.Options{Replica: replica, MaxBodyBytes: cfg.MaxBodyBytes, ImportMaxBytes: cfg.ImportMaxBytes,
		ImportMaxRows: cfg.ImportMaxRows, Secrets: box, WebhookVerifyToken: cfg.WebhookVerifyToken,
		Meta: meta, Metrics: sending, Drips: drips,
		TrustedProxies: cfg.TrustedProxies, KeyRate: float64(cfg.KeyRateLimit), KeyBurst: cfg.KeyBurst,
		MetricsElsewhere: cfg.MetricsAddr != "", Console: pages.Handler()}, reg, reg)

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	handler := srv.OpsHandler()
	for _, r := range roles {
		switch r {
		case roleAPI:
			handler = srv.Handler()
		case roleScheduler:
			if err := startScheduler(runCtx, cfg, log, pool, rdb, box, drips, reg, sending, &wg); err != nil {
				return err
			}
		case roleWorker:
			if err := startWorker(runCtx, cfg, log, pool, rdb, box, sending, &wg); err != nil {
				return err
			}
		}
	}
	wg.Go(func() { errs <- serveHTTP(runCtx, cfg.HTTPAddr, cfg.ShutdownTimeout, log, handler) })
	if cfg.MetricsAddr != "" {
		wg.Go(func() { errs <- serveHTTP(runCtx, cfg.MetricsAddr, cfg.ShutdownTimeout, log, srv.MetricsHandler()) })
	}
	if cfg.PprofAddr != "" {
		wg.Go(func() { errs <- serveHTTP(runCtx, cfg.PprofAddr, cfg.ShutdownTimeout, log, pprofHandler()) })
	}

	var first error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case first = <-errs:
	}
	cancel()
	wg.Wait()
	return first
}

func startScheduler(ctx context.Context, cfg config.Config, log *slog.Logger, pool *pgxpool.Pool, rdb *redis.Client,
	box *secrets.Box, drips *drip.Engine, reg prometheus.Registerer, m *metrics.Sending, wg *sync.WaitGroup) error {
	sch := scheduler.New(cfg.DatabaseURL, log, reg)
	jobs := scheduler.NewJobs(pool, rdb, drips, log, m)
	jobs.SendingTimeout = cfg.SendingTimeout
	jobs.WorkerDeadAfter, jobs.UnknownGrace = cfg.WorkerDeadAfter, cfg.UnknownGrace
	jobs.Clock = drips.Clock()
	jobs.Register(sch)
	refresher := scheduler.Refresher{Meta: whatsapp.NewClient(cfg.MetaBaseURL, cfg.MetaAPIVersion, cfg.MetaTimeout), Secrets: box}
	sch.Add(5*time.Minute, "refresh", func(ctx context.Context) error { return jobs.Refresh(ctx, refresher) })
	sch.Add(15*time.Minute, "templates", func(ctx context.Context) error { return jobs.SyncTemplates(ctx, refresher, false) })
	sch.Add(30*time.Second, "templates-wanted", func(ctx context.Context) error { return jobs.SyncTemplates(ctx, refresher, true) })
	limits := ratelimit.New(rdb, worker.PortfolioUsage(pool), cfg.PairInterval, ratelimit.SlotHorizon)
	sch.Add(10*time.Second, "tiers", func(ctx context.Context) error { return jobs.Tiers(ctx, limits) })
	sch.Add(5*time.Second, "tier-waits", func(ctx context.Context) error { return jobs.TierWaits(ctx, limits) })
	reg.MustRegister(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb)))
	wg.Go(func() { sch.Run(ctx) })
	return nil
}

func startWorker(ctx context.Context, cfg config.Config, log *slog.Logger, pool *pgxpool.Pool, rdb *redis.Client,
	box *secrets.Box, m *metrics.Sending, wg *sync.WaitGroup) error {
	collectLessOften()
	srv, err := worker.New(cfg.RedisURL, cfg.WorkerServers, cfg.WorkerConcurrency, log)
	if err != nil {
		return err
	}
	client := whatsapp.NewClient(cfg.MetaBaseURL, cfg.MetaAPIVersion, cfg.MetaTimeout)
	limits := ratelimit.New(rdb, worker.PortfolioUsage(pool), cfg.PairInterval, ratelimit.SlotHorizon)
	limits.Tolerance = cfg.SendTolerance
	heart := worker.NewHeart(pool, log)
	if err := heart.Start(ctx); err != nil {
		return err
	}
	mux := asynq.NewServeMux()
	mux.Handle(sendtask.Type, worker.NewSender(pool, client, limits, box, log, m, heart))
	if err := srv.Start(mux); err != nil {
		heart.Stop()
		return fmt.Errorf("start worker: %w", err)
	}
	wg.Go(func() {
		<-ctx.Done()
		srv.Shutdown()
		heart.Stop() // after the handlers: a worker stopped gracefully leaves nothing to settle
	})
	return nil
}

// workerGOGC is the worker's garbage-collection target unless GOGC is set. Each send allocates
// (its JSON, its request), so at the default of 100 a worker collects many times a second, and a
// collection delays the handlers waking for their throughput slots: a send written more than the
// tolerance late loses its slot. At 400 the pacing test lost half as many slots (0.975 of the
// limit rather than 0.94), for a heap a few times the live one (tens of MB).
const workerGOGC = 400

func collectLessOften() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(workerGOGC)
	}
}

// pprofHandler serves Go's profiles (DRIPCAST_PPROF_ADDR).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// serveHTTP serves until ctx ends, then drains requests for up to the shutdown timeout.
func serveHTTP(ctx context.Context, addr string, shutdownTimeout time.Duration, log *slog.Logger, h http.Handler) error {
	hs := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Minute, // contact imports stream large files
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("http listening", "addr", addr)
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// createAccount makes a tenant and its first owner key, and prints the key: the only time it is
// shown.
func createAccount(ctx context.Context, cfg config.Config, name, keyName string, stdout io.Writer) error {
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	key := apikey.New()
	var acct queries.Account
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := queries.New(tx)
		var err error
		if acct, err = q.CreateAccount(ctx, name); err != nil {
			return err
		}
		_, err = q.CreateAPIKey(ctx, queries.CreateAPIKeyParams{AccountID: acct.ID, Name: keyName,
			Prefix: key.Prefix, SecretHash: key.Hash, Role: "owner"})
		return err
	})
	if err != nil {
		return fmt.Errorf("create account (has `dripcast migrate` run?): %w", err)
	}
	fmt.Fprintf(stdout, "account_id=%d\napi_key=%s\n", acct.ID, key.Token)
	return nil
}

// createUser makes a console user of an account and prints the one-time link with which the
// person sets a password and signs in (the first owner of an account starts here).
func createUser(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
	account := fs.Int64("account", 0, "the account's id")
	email := fs.String("email", "", "the person's email address")
	roleName := fs.String("role", "owner", "owner, admin, marketer or analyst")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *account <= 0 || *email == "" {
		return errors.New("create-user needs --account and --email")
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := queries.New(pool).GetAccount(ctx, *account); err != nil {
		return fmt.Errorf("account %d: %w", *account, err)
	}
	u, token, err := people.New(pool, nil).Invite(ctx, audit.Actor{AccountID: *account, Name: "dripcast admin"}, *email, *roleName)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user_id=%d\nsign_in_link=%s\n", u.ID, console.LinkURL(cfg.PublicURL, token))
	return nil
}
