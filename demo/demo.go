// Package demo runs Dripcast on a fresh database and shows a marketer's first session: an import
// of sample contacts, a segment, a template rendered for a contact, a drip sequence started by
// order events, and a broadcast. It drives the real binary and its HTTP API.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/secrets"
)

// Config of a demo run.
type Config struct {
	Binary      string // the dripcast binary
	DatabaseURL string // an admin URL; the demo makes its own database beside it
	Database    string // the name of that database, dropped and made anew on each run
	RedisURL    string
	Contacts    int
	Out         io.Writer
	// Stay keeps Dripcast running after the demo, for its console, until ctx ends (Ctrl-C).
	Stay bool
}

// Run plays the demo from start to end.
func Run(ctx context.Context, cfg Config) error {
	d := &demo{cfg: cfg, out: cfg.Out, http: &http.Client{Timeout: time.Minute}}
	return d.run(ctx)
}

type demo struct {
	cfg  Config
	out  io.Writer
	http *http.Client
	base string
	key  string
	sim  *metasim.Sim
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n\033[1m▸ "+format+"\033[0m\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	dbURL, err := freshDatabase(ctx, d.cfg.DatabaseURL, d.cfg.Database)
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	d.base = "http://" + addr
	simURL, stopSim, err := d.startMetasim(d.base + "/webhooks/whatsapp")
	if err != nil {
		return err
	}
	defer stopSim()
	env := append(os.Environ(), "DRIPCAST_DATABASE_URL="+dbURL, "DRIPCAST_REDIS_URL="+d.cfg.RedisURL,
		"DRIPCAST_HTTP_ADDR="+addr, "DRIPCAST_LOG_LEVEL=warn", "DRIPCAST_SECRET_KEYS="+secrets.NewKey("demo"),
		"DRIPCAST_META_BASE_URL="+simURL, fmt.Sprint("DRIPCAST_DRIP_TIME_SCALE=", dripScale))

	d.step("Migrating a fresh database and creating the account \"Demo Shop\"")
	out, err := d.dripcast(env, "migrate")
	if err != nil {
		return fmt.Errorf("migrate: %w\n%s", err, out)
	}
	out, err = d.dripcast(env, "admin", "create-account", "--name", "Demo Shop")
	if err != nil {
		return fmt.Errorf("create account: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`api_key=(\S+)`).FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("create-account printed no key: %s", out)
	}
	d.key = string(m[1])
	fmt.Fprintf(d.out, "  API key (shown once): %s…\n", d.key[:18])

	d.step("Starting `dripcast serve` on %s", addr)
	serve := exec.CommandContext(ctx, d.cfg.Binary, "serve")
	serve.Env = env
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		_ = serve.Wait()
	}()
	if err := d.waitReady(ctx); err != nil {
		return err
	}
	if err := d.importContacts(); err != nil {
		return err
	}
	if err := d.segment(); err != nil {
		return err
	}
	tpl, err := d.template()
	if err != nil {
		return err
	}
	channel, err := d.channel()
	if err != nil {
		return err
	}
	seq, err := d.startDrip(ctx, channel)
	if err != nil {
		return err
	}
	if err := d.broadcast(ctx, channel, tpl); err != nil {
		return err
	}
	if err := d.dripSummary(ctx, seq); err != nil {
		return err
	}
	account := regexp.MustCompile(`account_id=(\d+)`).FindSubmatch(out)
	if account == nil {
		return fmt.Errorf("create-account printed no account id: %s", out)
	}
	if err := d.consoleUser(env, string(account[1])); err != nil {
		return err
	}
	d.step("Done")
	fmt.Fprint(d.out, dashboardsHelp)
	d.step("The console: %s", d.base)
	fmt.Fprintf(d.out, "  Sign in as %s with the password %q: the broadcast and the drip above are there to look at.\n",
		demoEmail, demoPassword)
	if !d.cfg.Stay {
		return nil
	}
	fmt.Fprintln(d.out, "  Dripcast keeps running for the console; Ctrl-C stops it.")
	<-ctx.Done()
	return nil
}

// The demo's console user.
const (
	demoEmail    = "demo@example.com"
	demoPassword = "winter sale in pune"
)

// consoleUser makes the demo's owner with `dripcast admin create-user` and sets its password
// through the one-time link's page, as a person would.
func (d *demo) consoleUser(env []string, account string) error {
	out, err := d.dripcast(append(env, "DRIPCAST_PUBLIC_URL="+d.base), "admin", "create-user", "--account", account,
		"--email", demoEmail, "--role", "owner")
	if err != nil {
		return fmt.Errorf("create-user: %w\n%s", err, out)
	}
	link := regexp.MustCompile(`sign_in_link=(\S+)`).FindSubmatch(out)
	if link == nil {
		return fmt.Errorf("create-user printed no link: %s", out)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, err := browser.Get(string(link[1]))
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if res.StatusCode != http.StatusOK || csrf == nil {
		return fmt.Errorf("the sign-in link answered %d", res.StatusCode)
	}
	res, err = browser.PostForm(string(link[1]), url.Values{"csrf": {string(csrf[1])}, "password": {demoPassword}, "confirm": {demoPassword}})
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/" {
		return fmt.Errorf("setting the demo password answered %d at %s", res.StatusCode, res.Request.URL.Path)
	}
	return nil
}

// dashboardsHelp ends the demo: where to look next.
const dashboardsHelp = `  Dashboards: dashboards/campaign-delivery.json (Postgres: funnels, delivery per minute, failures
  by code, replies and opt-outs, drip step funnels) and dashboards/sending-pipeline.json
  (Prometheus: send rate against each number's limit, tier use, limit decisions, queues, lags).
  To see them with this demo's data, run the whole stack: ` + "`docker compose up --build`" + `, then open
  Grafana on http://localhost:3000 (admin / admin). Grafana's provisioning is in
  dashboards/provisioning, Prometheus's configuration in deploy/prometheus.yml; every role serves
  its metrics on /metrics.
  The API is documented in api/openapi.yaml; ` + "`make test`" + ` runs the whole suite.
`

func (d *demo) dripcast(env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(d.cfg.Binary, args...)
	cmd.Env = env
	return cmd.CombinedOutput()
}

func (d *demo) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := d.http.Get(d.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("dripcast was not ready in 20s")
}

// call sends a request to the API and decodes the JSON answer; a status of 400 or more is an
// error. A 429 (the per-key rate limit, which the demo's bursts of calls can reach on a fast
// machine) is retried after its Retry-After, as an API client should.
func (d *demo) call(method, path, ctype string, body io.Reader, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = io.ReadAll(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, d.base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+d.key)
		if body != nil {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := d.http.Do(req)
		if err != nil {
			return err
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests && attempt < 5 {
			wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || wait < 1 {
				wait = 1
			}
			time.Sleep(time.Duration(wait) * time.Second)
			continue
		}
		if res.StatusCode >= 400 {
			return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		return json.Unmarshal(raw, out)
	}
}

func (d *demo) callJSON(method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	return d.call(method, path, "application/json", bytes.NewReader(b), out)
}

// importContacts uploads sample contacts in parts, to show progress; a few rows are broken on
// purpose, to show how bad rows are reported.
func (d *demo) importContacts() error {
	n := d.cfg.Contacts
	d.step("Importing %d sample contacts from CSV (a few rows are broken on purpose)", n)
	const parts = 20
	var created, rejected int
	var firstError string
	start := time.Now()
	for p := range parts {
		var buf bytes.Buffer
		buf.WriteString("Mobile,Name,City,Tags,Consent\n")
		for i := p * n / parts; i < (p+1)*n/parts; i++ {
			phone := fmt.Sprintf("98%03d %05d", i/100000, i%100000)
			if i%997 == 13 {
				phone = "12345" // not a valid number
			}
			fmt.Fprintf(&buf, "%s,%s,%s,%s,%s\n", phone, names[i%len(names)], cities[i%len(cities)],
				tags[i%len(tags)], map[bool]string{true: "yes", false: "no"}[i%4 != 0])
		}
		q := url.Values{"default_country": {"IN"}, "mapping": {`{"phone":"Mobile","opted_in":"Consent"}`}, "opt_in_source": {"import"}}
		var res struct {
			Created, Rejected int
			Errors            []struct {
				Line   int
				Reason string
			}
		}
		if err := d.call("POST", "/v1/contacts/import?"+q.Encode(), "text/csv", &buf, &res); err != nil {
			return err
		}
		created += res.Created
		rejected += res.Rejected
		if firstError == "" && len(res.Errors) > 0 {
			firstError = fmt.Sprintf("line %d: %s", res.Errors[0].Line, res.Errors[0].Reason)
		}
		progress(d.out, p+1, parts, fmt.Sprintf("%d created, %d rejected", created, rejected))
	}
	fmt.Fprintf(d.out, "\n  %d contacts in %.1fs; a rejected row, for example: %s\n", created, time.Since(start).Seconds(), firstError)
	return nil
}

func progress(w io.Writer, done, total int, label string) {
	const width = 30
	filled := done * width / total
	fmt.Fprintf(w, "\r  [%s%s] %3d%%  %s", strings.Repeat("█", filled), strings.Repeat("░", width-filled), done*100/total, label)
}

func (d *demo) segment() error {
	d.step("A segment: opted-in contacts in Pune or Mumbai tagged vip")
	rules := map[string]any{"all": []any{
		map[string]any{"field": "opted_in", "op": "eq", "value": true},
		map[string]any{"field": "attributes.city", "op": "in", "value": []string{"Pune", "Mumbai"}},
		map[string]any{"field": "tags", "op": "contains", "value": "vip"},
	}}
	var seg struct{ ID int64 }
	if err := d.callJSON("POST", "/v1/segments", map[string]any{"name": "VIP west", "rules": rules}, &seg); err != nil {
		return err
	}
	var preview struct {
		Count  int64
		Sample []struct{ Name, Phone string }
	}
	if err := d.call("GET", fmt.Sprintf("/v1/segments/%d/preview", seg.ID), "", nil, &preview); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  %d contacts match; the first few:\n", preview.Count)
	for _, c := range preview.Sample[:min(3, len(preview.Sample))] {
		fmt.Fprintf(d.out, "    %-12s %s\n", c.Name, phone.Mask(c.Phone))
	}
	return nil
}

func (d *demo) template() (int64, error) {
	d.step("A marketing template, rendered for one contact")
	tpl := map[string]any{
		"name": "diwali_offer", "language": "en", "category": "marketing",
		"components": map[string]any{
			"body":    map[string]any{"text": "Hi {{1}}! Our Diwali sale in {{2}} starts today: {{3}} off with code {{4}}."},
			"footer":  map[string]any{"text": "Reply STOP to opt out"},
			"buttons": []any{map[string]any{"type": "quick_reply", "text": "Stop promotions"}},
		},
		"parameters": map[string]any{
			"body.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"},
			"body.2": map[string]any{"source": "attribute", "key": "city", "fallback": "your city"},
			"body.3": map[string]any{"source": "event", "key": "discount", "fallback": "20%"},
			"body.4": map[string]any{"source": "fixed", "value": "DIWALI20"},
		},
	}
	var t struct{ ID int64 }
	if err := d.callJSON("POST", "/v1/templates", tpl, &t); err != nil {
		return 0, err
	}
	var rendered struct {
		Preview struct{ Body string }
	}
	if err := d.callJSON("POST", fmt.Sprintf("/v1/templates/%d/preview", t.ID), map[string]any{"contact_id": 1}, &rendered); err != nil {
		return 0, err
	}
	fmt.Fprintf(d.out, "  %q\n", rendered.Preview.Body)
	return t.ID, nil
}

var (
	names  = []string{"Asha Rao", "Ravi Kumar", "Meera Iyer", "Arjun Shah", "Priya Nair", "Kabir Singh", "Zoya Khan"}
	cities = []string{"Pune", "Mumbai", "Delhi", "Chennai", "Bengaluru"}
	tags   = []string{"vip", "new", "vip;repeat", "repeat", ""}
)

// freshDatabase drops and recreates a database next to the one adminURL names.
func freshDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	for _, sql := range []string{"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "CREATE DATABASE " + name} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", err
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
