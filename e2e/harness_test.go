// Package e2e runs Dripcast's whole sending path against real Postgres, Redis and metasim: the
// API, the scheduler's jobs, Asynq workers, the Cloud API client, and status webhooks flowing back.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/api"
	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/console"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/ratelimit"
	"github.com/dripcast/dripcast/scheduler"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
	"github.com/dripcast/dripcast/worker"
)

const (
	phoneNumberID = "100000000000001"
	wabaID        = "200000000000001"
	token         = "EAAG-test-token"
	appSecret     = "app-secret-123"
)

// stack is one Dripcast (API, scheduler jobs, workers) and one metasim.
type stack struct {
	t    testing.TB
	pool *pgxpool.Pool
	rdb  *redis.Client
	sim  *metasim.Sim
	api  string
	key  string
	jobs *scheduler.Jobs
	meta *whatsapp.Client
	box  *secrets.Box
	// clock is the drip engine's.
	clock  clock.Clock
	limits *ratelimit.Limiter // the workers'
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newStack(t testing.TB, simCfg metasim.Config, mps int) *stack {
	t.Helper()
	return newStackAt(t, simCfg, mps, clock.Real{})
}

// newStackAt is newStack with the drip engine on clk (a scaled clock lets days pass in seconds).
func newStackAt(t testing.TB, simCfg metasim.Config, mps int, clk clock.Clock) *stack {
	t.Helper()
	log := logger()
	pool := testenv.DB(t)
	redisURL := testenv.RedisURL(t)
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	box := testenv.Secrets(t)

	simSrv := httptest.NewUnstartedServer(nil) // its address is known before it serves
	t.Cleanup(simSrv.Close)
	client := whatsapp.NewClient("http://"+simSrv.Listener.Addr().String(), "v23.0", 5*time.Second)

	reg := prometheus.NewRegistry()
	sending := metrics.New(reg)
	drips := drip.New(pool, clk, log, sending)
	pages := console.New(pool, log, console.Options{Secrets: box, Meta: client, Drips: drips}).Handler()
	apiSrv := httptest.NewServer(api.New(pool, rdb, log, api.Options{Secrets: box, Meta: client, Metrics: sending, Drips: drips, Console: pages},
		reg, reg).Handler())
	t.Cleanup(apiSrv.Close)

	simCfg.WebhookURL = apiSrv.URL + "/webhooks/whatsapp"
	simCfg.WebhookSecret = appSecret
	sim := metasim.New(simCfg)
	t.Cleanup(sim.Close)
	sim.AddNumber(metasim.Number{PhoneNumberID: phoneNumberID, WABAID: wabaID, DisplayNumber: "+14155550199", Token: token, MPS: mps, Portfolio: "p"})
	sim.AddTemplate(metasim.Template{Name: "promo", Language: "en", Category: "marketing", Params: map[string]int{"body": 1}})
	simSrv.Config.Handler = sim.Handler()
	simSrv.Listener = metasim.Stamp(simSrv.Config, simSrv.Listener)
	simSrv.Start()

	srv, err := worker.New(redisURL, 4, 100, log)
	mux := asynq.NewServeMux()
	if err != nil {
		t.Fatal(err)
	}
	limits := ratelimit.New(rdb, worker.PortfolioUsage(pool), 6*time.Second, ratelimit.SlotHorizon)
	// This stack's workers run in the test's process, under the race detector on a loaded machine,
	// where a send takes several times as long to write: most would miss 5 ms (at 10 ms, make test
	// starved). The pacing of the real binary is TestPacingHoldsUnderStalls's; here a send may be
	// written 100 ms late, and the limiter spaces slots for that (a tenth slower).
	limits.Tolerance = 100 * time.Millisecond
	heart := worker.NewHeart(pool, log)
	if err := heart.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sender := worker.NewSender(pool, client, limits, box, log, sending, heart)
	mux.HandleFunc(sendtask.Type, func(ctx context.Context, task *asynq.Task) error {
		err := sender.ProcessTask(ctx, task)
		var limited *worker.RateLimited
		if err != nil && !errors.As(err, &limited) {
			t.Logf("send task: %v", err) // asynq retries it; the log shows why
		}
		return err
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		heart.Stop()
	})

	s := &stack{t: t, pool: pool, rdb: rdb, sim: sim, api: apiSrv.URL, jobs: scheduler.NewJobs(pool, rdb, drips, log, sending), meta: client, box: box, clock: clk, limits: limits}
	s.jobs.Clock, s.jobs.RetrySettle = clk, 500*time.Millisecond
	s.key = s.account()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.tick(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("messages: %s", s.states())
		}
	}) // runs first: the jobs stop before the pool closes
	return s
}

// tick runs the scheduler's jobs as its leader would, a little faster than its timers.
func (s *stack) tick(ctx context.Context) {
	for ctx.Err() == nil {
		tierWaits := func(ctx context.Context) error { return s.jobs.TierWaits(ctx, s.limits) }
		for _, job := range []func(context.Context) error{s.jobs.Start, s.jobs.Expand, s.jobs.Drip, s.jobs.Feed, s.jobs.Complete, s.jobs.Recover,
			s.jobs.Guard, tierWaits, s.jobs.Retry} {
			if err := job(ctx); err != nil && ctx.Err() == nil {
				s.t.Logf("job: %v", err)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *stack) account() string {
	ctx := context.Background()
	q := queries.New(s.pool)
	acct, err := q.CreateAccount(ctx, "acme")
	if err != nil {
		s.t.Fatal(err)
	}
	k := apikey.New()
	if _, err := q.CreateAPIKey(ctx, queries.CreateAPIKeyParams{AccountID: acct.ID, Name: "test", Prefix: k.Prefix, SecretHash: k.Hash, Role: "owner"}); err != nil {
		s.t.Fatal(err)
	}
	return k.Token
}

// states counts the messages by status, with how long the oldest queued one has waited.
func (s *stack) states() string {
	var out string
	_ = s.pool.QueryRow(context.Background(), `SELECT string_agg(status || ' ' || n, ', ') || ', oldest queued ' ||
		COALESCE((SELECT now() - min(queued_at) FROM messages WHERE status = 'queued')::text, '-')
		FROM (SELECT status::text, count(*) AS n FROM messages GROUP BY 1) s`).Scan(&out)
	return out
}

// call sends a JSON request to the API and decodes the answer, failing on an unexpected status.
func (s *stack) call(method, path string, body any, want int) map[string]any {
	s.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = bytes.NewBufferString(b), "text/csv"
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.api+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.key)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// setup registers a portfolio, the channel on metasim and the promo template.
func (s *stack) setup(tier any) (channel, template int64) {
	p := s.call("POST", "/v1/portfolios", map[string]any{"name": "Main", "tier": tier}, 201)
	c := s.call("POST", "/v1/channels", map[string]any{"portfolio_id": p["id"], "phone_number_id": phoneNumberID, "waba_id": wabaID,
		"display_number": "+14155550199", "access_token": token, "app_secret": appSecret, "throughput_mps": 1000}, 201)
	tp := s.call("POST", "/v1/templates", map[string]any{"name": "promo", "language": "en", "category": "marketing",
		"components": map[string]any{"body": map[string]any{"text": "Hi {{1}}, our sale starts today."}},
		"parameters": map[string]any{"body.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"}}}, 201)
	return int64(c["id"].(float64)), int64(tp["id"].(float64))
}

// phoneOf is the i-th test number.
func phoneOf(i int) string { return fmt.Sprintf("+1212%07d", 2000000+i) }

// report reads a broadcast's funnel.
func (s *stack) report(id int64) map[string]any {
	return s.call("GET", fmt.Sprintf("/v1/broadcasts/%d/report", id), nil, 200)["report"].(map[string]any)
}

func (s *stack) status(id int64) string {
	return s.call("GET", fmt.Sprintf("/v1/broadcasts/%d", id), nil, 200)["status"].(string)
}
