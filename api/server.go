// Package api serves Dripcast's JSON API: routes, authentication, validation and JSON errors.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/whatsapp"
)

// Options of the API.
type Options struct {
	// Replica, when set, is a streaming replica of the database: reports, recipient lists and
	// exports, costs and the audit log read it, so their long scans take no CPU or I/O from the
	// sends. Lookups that must see the caller's own writes (the broadcast a report is of) stay on
	// the primary: a report of a broadcast just made shows the replica's lag, never a 404.
	Replica        *pgxpool.Pool
	MaxBodyBytes   int64 // JSON bodies
	ImportMaxBytes int64 // one contact import
	ImportMaxRows  int
	Secrets        *secrets.Box // seals channel tokens and app secrets
	// WebhookVerifyToken answers Meta's webhook subscription check.
	WebhookVerifyToken string
	// Meta sends test messages.
	Meta *whatsapp.Client
	// Metrics counts webhook events; the API makes its own when nil.
	Metrics *metrics.Sending
	// Drips enrolls contacts by hand; one on the real clock when nil.
	Drips *drip.Engine
	// TrustedProxies may set X-Forwarded-For; other callers are known by their connection.
	TrustedProxies []netip.Prefix
	// KeyRate and KeyBurst bound each API key's requests per second in this process; 0 is no limit.
	KeyRate  float64
	KeyBurst int
	// MetricsElsewhere leaves /metrics out of Handler and OpsHandler: MetricsHandler serves it on
	// an address of its own. Otherwise /metrics answers loopback callers only.
	MetricsElsewhere bool
	// HookFailureRate and HookFailureBurst bound the failed attempts per second of one address on
	// the unauthenticated routes (2 and 60 when 0; negative is no limit).
	HookFailureRate  float64
	HookFailureBurst int
	// HookReadTimeout bounds the time to receive an unauthenticated request's body (15 s when 0).
	HookReadTimeout time.Duration
	// Console serves the web console on every path the API does not own (/v1/, webhooks,
	// hooks and the operational routes); nil answers those with JSON 404s.
	Console http.Handler
}

// Server holds what the handlers share.
type Server struct {
	db      *pgxpool.Pool
	q       *queries.Queries
	read    *queries.Queries // the replica's, or q
	rdb     redis.UniversalClient
	log     *slog.Logger
	opts    Options
	metrics *httpMetrics
	gather  prometheus.Gatherer
	limits  *buckets[int64]
	// hookFailures counts each address's failed attempts on the unauthenticated routes.
	hookFailures *addrLimits
}

// New builds the API. reg receives the HTTP metrics; gather serves /metrics.
func New(pool *pgxpool.Pool, rdb redis.UniversalClient, log *slog.Logger, opts Options, reg prometheus.Registerer, gather prometheus.Gatherer) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.ImportMaxBytes <= 0 {
		opts.ImportMaxBytes = 512 << 20
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New(reg)
	}
	if opts.Drips == nil {
		opts.Drips = drip.New(pool, clock.Real{}, log, opts.Metrics)
	}
	if opts.KeyBurst <= 0 {
		opts.KeyBurst = max(1, int(2*opts.KeyRate))
	}
	if opts.HookFailureRate == 0 {
		opts.HookFailureRate = 2
	}
	if opts.HookFailureBurst <= 0 {
		opts.HookFailureBurst = 60
	}
	if opts.HookReadTimeout <= 0 {
		opts.HookReadTimeout = 15 * time.Second
	}
	read := queries.New(pool)
	if opts.Replica != nil {
		read = queries.New(opts.Replica)
	}
	return &Server{db: pool, q: queries.New(pool), read: read, rdb: rdb, log: log, opts: opts,
		metrics: newHTTPMetrics(reg), gather: gather,
		limits:       newBuckets[int64](rate.Limit(opts.KeyRate), opts.KeyBurst),
		hookFailures: newBuckets[netip.Addr](rate.Limit(opts.HookFailureRate), opts.HookFailureBurst)}
}

// handlerFunc is a handler that returns its error; the router writes it as JSON.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// access says who may call a route.
type access int

const (
	byKey       access = iota // an API key of the account
	ops                       // anyone: health, readiness, metrics, the OpenAPI document
	bySignature               // Meta, proven by the body's signature
)

// route is one endpoint: who may call it, and (for API keys) which roles.
type route struct {
	method, path string
	access       access
	roles        role.Set
	h            handlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", ops, 0, s.healthz},
		{"GET", "/readyz", ops, 0, s.readyz},
		{"GET", "/metrics", ops, 0, s.metricsHandler},
		{"GET", "/openapi.yaml", ops, 0, serveOpenAPI},
		{"GET", "/webhooks/whatsapp", bySignature, 0, s.webhookHandshake},
		{"POST", "/webhooks/whatsapp", bySignature, 0, s.webhookReceive},
		{"GET", "/v1/account", byKey, role.Any, s.getAccount},
		{"GET", "/v1/account/settings", byKey, role.Readers, s.getSettings},
		{"PUT", "/v1/account/settings", byKey, role.Admins, s.putSettings},
		{"GET", "/v1/account/prices", byKey, role.Readers, s.getPrices},
		{"PUT", "/v1/account/prices", byKey, role.Admins, s.putPrices},
		{"GET", "/v1/costs", byKey, role.Readers, s.accountCosts},
		{"POST", "/v1/contacts", byKey, role.Editors, s.createContact},
		{"GET", "/v1/contacts", byKey, role.Readers, s.listContacts},
		{"POST", "/v1/contacts/import", byKey, role.Editors, s.importContacts},
		{"GET", "/v1/contacts/{id}", byKey, role.Readers, s.getContact},
		{"PATCH", "/v1/contacts/{id}", byKey, role.Editors, s.updateContact},
		{"DELETE", "/v1/contacts/{id}", byKey, role.Editors, s.deleteContact},
		{"POST", "/v1/contacts/{id}/opt-in", byKey, role.Editors, s.optIn},
		{"POST", "/v1/contacts/{id}/opt-out", byKey, role.Editors, s.optOut},
		{"GET", "/v1/contacts/{id}/consent", byKey, role.Readers, s.listConsent},
		{"GET", "/v1/contacts/{id}/export", byKey, role.Admins, s.exportContact},
		{"POST", "/v1/contacts/{id}/erase", byKey, role.Admins, s.eraseContact},
		{"POST", "/v1/segments", byKey, role.Editors, s.createSegment},
		{"GET", "/v1/segments", byKey, role.Readers, s.listSegments},
		{"POST", "/v1/segments/preview", byKey, role.Readers, s.previewRules},
		{"GET", "/v1/segments/{id}", byKey, role.Readers, s.getSegment},
		{"PUT", "/v1/segments/{id}", byKey, role.Editors, s.updateSegment},
		{"DELETE", "/v1/segments/{id}", byKey, role.Editors, s.deleteSegment},
		{"GET", "/v1/segments/{id}/preview", byKey, role.Readers, s.previewSegment},
		{"POST", "/v1/portfolios", byKey, role.Admins, s.createPortfolio},
		{"GET", "/v1/portfolios", byKey, role.Readers, s.listPortfolios},
		{"GET", "/v1/portfolios/{id}", byKey, role.Readers, s.getPortfolio},
		{"PUT", "/v1/portfolios/{id}", byKey, role.Admins, s.updatePortfolio},
		{"POST", "/v1/channels", byKey, role.Admins, s.createChannel},
		{"GET", "/v1/channels", byKey, role.Readers, s.listChannels},
		{"GET", "/v1/channels/{id}", byKey, role.Readers, s.getChannel},
		{"PATCH", "/v1/channels/{id}", byKey, role.Admins, s.updateChannel},
		{"DELETE", "/v1/channels/{id}", byKey, role.Admins, s.deleteChannel},
		{"POST", "/v1/channels/{id}/templates/sync", byKey, role.Editors, s.syncTemplates},
		{"POST", "/v1/channels/{id}/media", byKey, role.Editors, s.uploadMedia},
		{"GET", "/v1/channels/{id}/media", byKey, role.Readers, s.listMedia},
		{"POST", "/v1/broadcasts", byKey, role.Editors, s.createBroadcast},
		{"GET", "/v1/broadcasts", byKey, role.Readers, s.listBroadcasts},
		{"POST", "/v1/broadcasts/test-send", byKey, role.Editors, s.testSend},
		{"GET", "/v1/broadcasts/{id}", byKey, role.Readers, s.getBroadcast},
		{"PUT", "/v1/broadcasts/{id}", byKey, role.Editors, s.updateBroadcast},
		{"POST", "/v1/broadcasts/{id}/pause", byKey, role.Editors, s.pauseBroadcast},
		{"POST", "/v1/broadcasts/{id}/resume", byKey, role.Editors, s.resumeBroadcast},
		{"POST", "/v1/broadcasts/{id}/cancel", byKey, role.Editors, s.cancelBroadcast},
		{"GET", "/v1/broadcasts/{id}/report", byKey, role.Readers, s.broadcastReport},
		{"GET", "/v1/broadcasts/{id}/recipients", byKey, role.Readers, s.broadcastRecipients},
		{"POST", "/v1/broadcasts/{id}/retry-failed", byKey, role.Editors, s.retryFailed},
		{"POST", "/v1/broadcasts/{id}/retarget", byKey, role.Editors, s.retarget},
		{"POST", "/v1/sequences", byKey, role.Editors, s.createSequence},
		{"GET", "/v1/sequences", byKey, role.Readers, s.listSequences},
		{"GET", "/v1/sequences/{id}", byKey, role.Readers, s.getSequence},
		{"PUT", "/v1/sequences/{id}", byKey, role.Editors, s.updateSequence},
		{"POST", "/v1/sequences/{id}/activate", byKey, role.Editors, s.activateSequence},
		{"POST", "/v1/sequences/{id}/pause", byKey, role.Editors, s.pauseSequence},
		{"POST", "/v1/sequences/{id}/resume", byKey, role.Editors, s.resumeSequence},
		{"POST", "/v1/sequences/{id}/archive", byKey, role.Editors, s.archiveSequence},
		{"GET", "/v1/sequences/{id}/report", byKey, role.Readers, s.sequenceReport},
		{"GET", "/v1/sequences/{id}/enrollments", byKey, role.Readers, s.listEnrollments},
		{"POST", "/v1/sequences/{id}/enrollments", byKey, role.Editors, s.enroll},
		{"GET", "/v1/enrollments/{id}", byKey, role.Readers, s.getEnrollment},
		{"POST", "/v1/enrollments/{id}/exit", byKey, role.Editors, s.exitEnrollment},
		{"POST", "/v1/events", byKey, role.Ingest, s.createEvent},
		{"POST", "/v1/integrations", byKey, role.Admins, s.createIntegration},
		{"GET", "/v1/integrations", byKey, role.Readers, s.listIntegrations},
		{"GET", "/v1/integrations/{id}", byKey, role.Readers, s.getIntegration},
		{"PATCH", "/v1/integrations/{id}", byKey, role.Admins, s.updateIntegration},
		{"DELETE", "/v1/integrations/{id}", byKey, role.Admins, s.deleteIntegration},
		{"GET", "/v1/integrations/{id}/deliveries", byKey, role.Readers, s.listDeliveries},
		{"POST", "/hooks/{token}", bySignature, 0, s.receiveHook},
		{"GET", "/v1/account/allowed-ips", byKey, role.Admins, s.getAllowedIPs},
		{"PUT", "/v1/account/allowed-ips", byKey, role.Owner, s.putAllowedIPs},
		{"POST", "/v1/api-keys", byKey, role.Owner, s.createKey},
		{"GET", "/v1/api-keys", byKey, role.Owner, s.listKeys},
		{"DELETE", "/v1/api-keys/{id}", byKey, role.Owner, s.revokeKey},
		{"GET", "/v1/audit-log", byKey, role.Admins, s.auditLog},
		{"GET", "/v1/account/export-approval", byKey, role.Admins, s.getExportApproval},
		{"PUT", "/v1/account/export-approval", byKey, role.Owner, s.putExportApproval},
		{"POST", "/v1/exports", byKey, role.Readers, s.requestExport},
		{"GET", "/v1/exports", byKey, role.Readers, s.listExports},
		{"GET", "/v1/exports/{id}", byKey, role.Readers, s.getExport},
		{"POST", "/v1/exports/{id}/approve", byKey, role.Admins, s.decideExport(true)},
		{"POST", "/v1/exports/{id}/reject", byKey, role.Admins, s.decideExport(false)},
		{"GET", "/v1/exports/{id}/download", byKey, role.Readers, s.downloadExport},
		{"POST", "/v1/templates", byKey, role.Editors, s.createTemplate},
		{"GET", "/v1/templates", byKey, role.Readers, s.listTemplates},
		{"GET", "/v1/templates/{id}", byKey, role.Readers, s.getTemplate},
		{"PUT", "/v1/templates/{id}", byKey, role.Editors, s.updateTemplate},
		{"DELETE", "/v1/templates/{id}", byKey, role.Editors, s.deleteTemplate},
		{"POST", "/v1/templates/{id}/preview", byKey, role.Readers, s.previewTemplate},
		{"GET", "/v1/templates/{id}/history", byKey, role.Readers, s.templateHistory},
	}
}

// Handler is the whole API: every route, JSON 404 and 405 answers, metrics and recovery.
func (s *Server) Handler() http.Handler {
	return s.mux(func(rt route) bool { return true })
}

// OpsHandler serves only the public operational routes (health, readiness, metrics, the
// OpenAPI document), for processes that do not run the API role.
func (s *Server) OpsHandler() http.Handler {
	return s.mux(func(rt route) bool { return rt.access == ops })
}

// noStore keeps an account's data (and the secrets some answers show once) out of every cache.
func noStore(next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		return next(w, r)
	}
}

// MetricsHandler serves /metrics to anyone, for an address of its own (DRIPCAST_METRICS_ADDR).
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}))
	return mux
}

func (s *Server) mux(include func(route) bool) http.Handler {
	mux := http.NewServeMux()
	methods := map[string]bool{}
	for _, rt := range s.routes() {
		if !include(rt) || (rt.path == "/metrics" && s.opts.MetricsElsewhere) {
			continue
		}
		h := rt.h
		switch rt.access {
		case byKey:
			h = noStore(s.authenticate(rt.roles, h))
		case bySignature:
			h = s.guardHook(h)
		}
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt.method+" "+rt.path, h))
		methods[rt.method] = true
	}
	notFound := s.wrap("unmatched", func(http.ResponseWriter, *http.Request) error { return errNotFound("route") })
	notAllowed := s.wrap("unmatched", func(http.ResponseWriter, *http.Request) error {
		return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: "this path does not take that method"}
	})
	console := s.opts.Console
	if !include(route{access: byKey}) {
		console = nil // the operational handler serves no pages
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		if console != nil && !apiPath(r.URL.Path) {
			console.ServeHTTP(w, r)
			return
		}
		// No route: 405 if the path is served with another method, else 404, both as JSON.
		for m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				notAllowed.ServeHTTP(w, r)
				return
			}
		}
		notFound.ServeHTTP(w, r)
	})
}

// apiPath tells whether a path belongs to the API (JSON answers) rather than the console.
func apiPath(p string) bool {
	for _, prefix := range []string{"/v1/", "/webhooks/", "/hooks/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return p == "/v1" || p == "/healthz" || p == "/readyz" || p == "/metrics" || p == "/openapi.yaml"
}

// wrap turns a handlerFunc into an http.Handler that writes errors as JSON, recovers panics and
// records the request under its route pattern (never the raw path: ids would make the metric
// unbounded).
func (s *Server) wrap(pattern string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "route", pattern, "panic", p)
				if !rec.wrote {
					writeError(rec, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
				}
			}
			s.metrics.observe(pattern, rec.status, time.Since(start))
		}()
		var err error
		if bad := checkQuery(r); bad != nil {
			err = bad
		} else {
			err = h(rec, r)
		}
		if err != nil {
			s.fail(rec, r, pattern, err)
		}
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, pattern string, err error) {
	var apiErr *Error
	input, isInput := invalid.As(err)
	switch {
	case errors.As(err, &apiErr):
	case isInput:
		apiErr = errInvalid(input)
	case errors.Is(err, pgx.ErrNoRows):
		apiErr = errNotFound("resource")
	case errors.Is(err, context.Canceled):
		apiErr = &Error{Status: 499, Code: "client_closed", Message: "the request was cancelled"}
	default:
		s.log.Error("request failed", "route", pattern, "err", err)
		apiErr = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; the request was logged"}
	}
	writeError(w, apiErr)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dripcast_http_requests_total", Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dripcast_http_request_duration_seconds", Help: "API request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// metricsHandler shows every tenant's counts, so on the API's address it answers only callers on
// this machine (by the connection's address: a forwarded header proves nothing here).
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	if !iprange.Remote(r).IsLoopback() {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: "metrics are served to this machine only; set DRIPCAST_METRICS_ADDR to serve them on an address of their own"}
	}
	promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz checks the two servers every role depends on.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	status := http.StatusOK
	if err := s.db.Ping(ctx); err != nil {
		checks["postgres"], status = "unreachable", http.StatusServiceUnavailable
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		checks["redis"], status = "unreachable", http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
	return nil
}
