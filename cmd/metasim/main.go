// Command metasim runs the WhatsApp Cloud API simulator on loopback (see metasim --help).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dripcast/dripcast/metasim"
)

// fileConfig is the -config file: numbers, templates and portfolio tiers.
type fileConfig struct {
	Numbers   []metasim.Number   `json:"numbers"`
	Templates []metasim.Template `json:"templates"`
	Tiers     map[string]int     `json:"tiers"` // portfolio → unique recipients per 24 h
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "metasim:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg metasim.Config
	fs := flag.NewFlagSet("metasim", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `metasim: a simulator of Meta's WhatsApp Cloud API, for demos, tests and benchmarks.

It serves POST /{version}/{phone-number-id}/messages and GET /{version}/{phone-number-id},
checks tokens, numbers, templates and parameter counts as Meta does, enforces throughput (130429),
pair rate (131056), tiers and the marketing cap, posts signed status webhooks, and records every
request. The control API under /_sim/ reads the records and counters and plays users and Meta
(inbound replies, STOP, quality changes, template pauses); see metasim/server.go.

Without -config it serves one number: id 100000000000001, token metasim-token, WABA
200000000000001, and accepts the templates registered through POST /_sim/templates.

Flags:
`)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:9090", "listen address")
	configFile := fs.String("config", "", "JSON file with numbers, templates and tiers")
	fs.IntVar(&cfg.DefaultMPS, "mps", 80, "throughput of a number that sets none, messages per second")
	fs.IntVar(&cfg.DefaultTier, "tier", 250, "unique recipients per moving 24 h per portfolio (0 = unlimited)")
	fs.DurationVar(&cfg.PairInterval, "pair-interval", 6*time.Second, "least simulated time between two messages to one user (0 = off)")
	fs.IntVar(&cfg.MarketingCap, "marketing-cap", 0, "marketing templates one user gets per moving 24 h (0 = no cap)")
	fs.Float64Var(&cfg.TimeScale, "time-scale", 1, "simulated seconds per wall-clock second (delays, windows, pair rate)")
	fs.StringVar(&cfg.WebhookURL, "webhook-url", "", "where to post webhooks (empty: none)")
	fs.StringVar(&cfg.WebhookSecret, "webhook-secret", "metasim-secret", "app secret that signs webhooks of numbers that set none")
	fs.DurationVar(&cfg.SentDelay, "sent-delay", 500*time.Millisecond, "simulated time from send to the sent status")
	fs.DurationVar(&cfg.DeliveredDelay, "delivered-delay", 2*time.Second, "simulated time from send to delivered (or failed)")
	fs.DurationVar(&cfg.ReadDelay, "read-delay", 5*time.Second, "simulated time from send to read")
	fs.Float64Var(&cfg.ReadShare, "read-share", 0.6, "share of delivered messages that are read")
	fs.Float64Var(&cfg.FailShare, "fail-share", 0.02, "share of sent messages that fail to deliver (131026)")
	fs.Float64Var(&cfg.DropDelivered, "drop-delivered", 0, "share of read messages whose delivered status is never posted")
	fs.Float64Var(&cfg.DuplicateShare, "duplicate-share", 0, "share of status webhooks posted twice")
	fs.BoolVar(&cfg.Shuffle, "shuffle", false, "post each message's statuses in random order")
	fs.IntVar(&cfg.WebhookBatch, "webhook-batch", 100, "statuses per webhook POST, at most")
	fs.Float64Var(&cfg.Faults.ServerError, "fault-5xx", 0, "share of sends answered 500 (131000) without sending")
	fs.Float64Var(&cfg.Faults.Slow, "fault-slow", 0, "share of sends answered after -slow-delay")
	fs.Float64Var(&cfg.Faults.Timeout, "fault-timeout", 0, "share of sends that go out but are never answered")
	fs.DurationVar(&cfg.Faults.SlowDelay, "slow-delay", 2*time.Second, "delay of a slow answer")
	notOnWA := fs.String("not-on-whatsapp", "", "comma-separated numbers that are not on WhatsApp (131026)")
	stopped := fs.String("stopped-marketing", "", "comma-separated numbers that stopped marketing messages (131050)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "seed of the random choices (0: from the clock)")
	_ = fs.Parse(os.Args[1:])
	cfg.NotOnWhatsApp = list(*notOnWA)
	cfg.StoppedMarketing = list(*stopped)

	sim := metasim.New(cfg)
	defer sim.Close()
	if err := load(sim, *configFile); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "metasim listening on http://%s\n", *addr)
	if err := srv.Serve(metasim.Stamp(srv, l)); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func load(sim *metasim.Sim, path string) error {
	if path == "" {
		sim.AddNumber(metasim.Number{PhoneNumberID: "100000000000001", WABAID: "200000000000001",
			DisplayNumber: "+1 555 010 0001", Token: "metasim-token"})
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var fc fileConfig
	if err := json.Unmarshal(b, &fc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, n := range fc.Numbers {
		sim.AddNumber(n)
	}
	for _, t := range fc.Templates {
		sim.AddTemplate(t)
	}
	for p, limit := range fc.Tiers {
		sim.SetTier(p, limit)
	}
	return nil
}
