package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// chromium is Debian's browser, which scripts/chromium.sh installs for make test.
const chromium = "/usr/bin/chromium"

// screenshotDir is where the console test keeps its screenshots: docs/console when
// DRIPCAST_SCREENSHOTS is set (make screenshots), else the test's own temporary folder.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("DRIPCAST_SCREENSHOTS"); dir != "" {
		return dir
	}
	return t.TempDir()
}

// browser is one headless Chromium at 1280×800.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: scripts/chromium.sh installs it (make test runs it)", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as that run's context: no timeout here.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return &browser{t: t, ctx: ctx, base: base, shot: screenshotDir(t)}
}

// run performs actions, failing the test (with the page's address) if one fails or the whole takes
// over 30 s.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	get(b, chromedp.Steps(actions...))
}

// get runs an action that returns a value, as run does.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		url, _ := chromedp.Run(ctx, chromedp.Location())
		page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("browser at %s: %v; the page reads:\n%s", url, err, page)
	}
	return v
}

func (b *browser) open(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(b.base + path)
}

// screenshot keeps what the window shows as name.png (the whole page with full: a long form).
func (b *browser) screenshot(name string, full ...bool) {
	b.t.Helper()
	shot := chromedp.CaptureScreenshot()
	if len(full) > 0 && full[0] {
		shot = chromedp.FullScreenshot(100)
	}
	png := get(b, shot)
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// text reads an element's text.
func (b *browser) text(sel string) string { return get(b, chromedp.Text(chromedp.CSS(sel))) }

// The live part of a broadcast's page is redrawn every 2 s, so a node found by one protocol call
// may be gone by the next: liveText and liveClick find and use an element in one script.

// liveText is an element's text now ("" when there is none).
func (b *browser) liveText(sel string) string {
	return get(b, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.textContent.trim() ?? ""`, sel)))
}

// liveClick clicks an element now, and tells whether there was one.
func (b *browser) liveClick(sel string) bool {
	return get(b, chromedp.Evaluate[bool](fmt.Sprintf(`(e => { if (e) { e.click(); } return !!e; })(document.querySelector(%q))`, sel)))
}

// fetch runs fetch() in the page (with its cookies) and returns the status and body.
func (b *browser) fetch(method, path string, headers map[string]string) (int, string) {
	b.t.Helper()
	type result struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	h := "{"
	for k, v := range headers {
		h += strconv.Quote(k) + ":" + strconv.Quote(v) + ","
	}
	h = strings.TrimSuffix(h, ",") + "}"
	js := fmt.Sprintf(`fetch(%q, {method: %q, headers: %s, credentials: "same-origin", redirect: "manual"})
		.then(async r => ({status: r.status, body: await r.text()}))`, path, method, h)
	res := get(b, chromedp.Evaluate[result](js, chromedp.EvalAwaitPromise))
	return res.Status, res.Body
}

// welcome opens a one-time link and sets the password, and waits to leave the page.
func (b *browser) welcome(link string) {
	b.t.Helper()
	b.run(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#password"), "plum tree by the harbour"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "plum tree by the harbour"),
		chromedp.Submit(chromedp.CSS("#confirm")))
	testenv.Eventually(b.t, "the welcome page to go", 10*time.Second, func() bool { return !strings.Contains(get(b, chromedp.Location()), "/welcome/") })
	b.run(chromedp.WaitReady(chromedp.CSS("footer")))
}

// enrol sets up TOTP on the MFA page, computing the code from the key the page shows, and returns
// the recovery codes.
func (b *browser) enrol() []string {
	b.t.Helper()
	b.run(b.open("/account/mfa"), chromedp.WaitVisible(chromedp.CSS("#totp-secret")))
	secret := b.text("#totp-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.Submit(chromedp.CSS("#code")),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	return strings.Fields(b.text("#recovery-codes"))
}

func (b *browser) signOut() {
	b.run(chromedp.Submit(chromedp.CSS(".who form")), chromedp.WaitVisible(chromedp.CSS(`form[action^="/signin"]`)))
}

// createUser runs `dripcast admin create-user` against the stack's database and returns the link.
func (s *stack) createUser(account int64, email, role string) string {
	s.t.Helper()
	cmd := exec.Command(binary(s.t), "admin", "create-user", "--account", fmt.Sprint(account), "--email", email, "--role", role)
	cmd.Env = append(os.Environ(), "DRIPCAST_DATABASE_URL="+s.pool.Config().ConnString(), "DRIPCAST_PUBLIC_URL="+s.api)
	out, err := cmd.Output()
	m := regexp.MustCompile(`sign_in_link=(\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		s.t.Fatalf("create-user: %v %s", err, out)
	}
	return string(m[1])
}

// The broadcast path in a real browser, as the issue describes it: an owner made by the CLI signs
// in, enrols TOTP, invites a marketer and an analyst and requires MFA of everyone; the marketer
// enrols, composes a broadcast to a segment of 2,000, sees a field error and fixes it, test-sends,
// schedules, watches the funnel move, pauses and resumes, and downloads the CSV; the analyst sees
// masked numbers; a change without the CSRF token is refused; another account's user gets 404.
func TestConsoleBroadcastPath(t *testing.T) {
	t.Parallel()
	s := newStack(t, metasim.Config{}, 1000) // Meta's high level; Dripcast sends at the channel's cap of 100 a second
	ctx := context.Background()
	var account int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM accounts`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	p := s.call("POST", "/v1/portfolios", map[string]any{"name": "Main", "tier": 10000}, 201)
	s.call("POST", "/v1/channels", map[string]any{"portfolio_id": p["id"], "phone_number_id": phoneNumberID, "waba_id": wabaID,
		"name": "Store", "display_number": "+14155550199", "access_token": token, "app_secret": appSecret, "throughput_mps": 100}, 201)
	s.call("POST", "/v1/templates", map[string]any{"name": "promo", "language": "en", "category": "marketing",
		"components": map[string]any{"body": map[string]any{"text": "Hi {{1}}, our winter sale starts today."}},
		"parameters": map[string]any{"body.1": map[string]any{"source": "contact", "field": "first_name", "fallback": "there"}}}, 201)
	s.importGroups(2000)
	seg := s.call("POST", "/v1/segments", map[string]any{"name": "Winter list", "rules": map[string]any{"field": "tags", "op": "contains", "value": "g0"}}, 201)

	b := newBrowser(t, s.api)
	b.run(b.open("/"), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.screenshot("signin")

	// The owner: the CLI's link, a password, TOTP, two invites, MFA for everyone.
	b.welcome(s.createUser(account, "owner@example.com", "owner"))
	b.run(chromedp.WaitVisible(chromedp.CSS("#day-h")))
	if codes := b.enrol(); len(codes) != 10 {
		t.Fatalf("recovery codes: %v", codes)
	}
	invite := func(email, role string) string {
		b.run(b.open("/users"), chromedp.SetValue(chromedp.CSS("#email"), email), chromedp.SetValue(chromedp.CSS("#role"), role),
			chromedp.Submit(chromedp.CSS("#email")), chromedp.WaitVisible(chromedp.CSS("#invite-link")))
		return get(b, chromedp.Value(chromedp.CSS("#invite-link")))
	}
	marketerLink, analystLink := invite("marketer@example.com", "marketer"), invite("analyst@example.com", "analyst")
	b.run(b.open("/users"), chromedp.Click(chromedp.CSS(`input[name=require_mfa]`)), chromedp.Submit(chromedp.CSS(`input[name=require_mfa]`)),
		chromedp.WaitVisible(chromedp.CSS("#saved")))
	b.screenshot("people")
	b.signOut()

	// The marketer must set up MFA before anything else.
	b.welcome(marketerLink)
	b.run(chromedp.WaitVisible(chromedp.CSS("#totp-secret")))
	b.screenshot("mfa")
	b.enrol()

	// Compose: the audience is counted as it changes (the page's script); no name first, so the
	// field error shows beside the field.
	b.run(b.open("/broadcasts/new"), chromedp.WaitVisible(chromedp.CSS("#compose")),
		chromedp.SetValue(chromedp.CSS("#segment_id"), fmt.Sprint(seg["id"])),
		chromedp.Click(chromedp.CSS(`input[name=audience][value=tag]`)), chromedp.Click(chromedp.CSS(`input[name=audience][value=segment]`)),
		chromedp.WaitVisible(chromedp.CSS("#audience-count")))
	if n := b.text("#audience-count"); !strings.HasPrefix(n, "2,000 will receive it") {
		t.Fatalf("live count: %q", n)
	}
	b.run(chromedp.Click(chromedp.CSS(`button[value=review]`)), chromedp.WaitVisible(chromedp.CSS(".field-error")))
	if e := b.text("#name ~ .field-error"); !strings.Contains(e, "name is required") {
		t.Fatalf("the name's error: %q", e)
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#name"), "Winter sale"), chromedp.SetValue(chromedp.CSS("#retry_mode"), "smart"),
		chromedp.Click(chromedp.CSS(`button[value=review]`)), chromedp.WaitVisible(chromedp.CSS("#review-facts")))
	if facts := b.text("#review-facts"); !strings.Contains(facts, "2,000 recipients") || !strings.Contains(facts, "20 s at 100 messages a second") ||
		!strings.Contains(facts, "Cloud API") || !strings.Contains(facts, "smart, the last within 3 days of the send") {
		t.Fatalf("review: %q", facts)
	}
	b.screenshot("compose", true)
	b.run(chromedp.SendKeys(chromedp.CSS("#test_phones"), "+14155550123"), chromedp.Click(chromedp.CSS(`button[value=test]`)),
		chromedp.WaitVisible(chromedp.CSS("#test-results")))
	if r := b.text("#test-results"); !strings.Contains(r, "sent") || len(s.sends("14155550123")) != 1 {
		t.Fatalf("test send: %q, metasim got %d", r, len(s.sends("14155550123")))
	}
	b.run(chromedp.Click(chromedp.CSS("#schedule")))
	var loc string
	testenv.Eventually(t, "the broadcast's page", 10*time.Second, func() bool {
		loc = get(b, chromedp.Location())
		return regexp.MustCompile(`/broadcasts/\d+$`).MatchString(loc) && b.liveText("#funnel") != ""
	})
	id, err := strconv.ParseInt(loc[strings.LastIndex(loc, "/")+1:], 10, 64)
	if err != nil {
		t.Fatalf("scheduled to %s", loc)
	}

	// The funnel moves without a reload; pause and resume take effect within a second.
	sentOnPage := func() int64 {
		n, _ := strconv.ParseInt(strings.ReplaceAll(b.liveText("#funnel-sent"), ",", ""), 10, 64)
		return n
	}
	testenv.Eventually(t, "the page's sent count to move", 30*time.Second, func() bool { return sentOnPage() > 0 })
	b.screenshot("broadcast")
	b.run(b.open("/"), chromedp.WaitVisible(chromedp.CSS("#day-h")))
	b.screenshot("home")
	b.run(chromedp.EmulateViewport(390, 844))
	b.screenshot("home-phone")
	b.run(chromedp.EmulateViewport(1280, 800), b.open(fmt.Sprintf("/broadcasts/%d", id)))
	testenv.Eventually(t, "the pause button", 5*time.Second, func() bool { return b.liveClick("#pause") })
	// One transaction behind the click: a second, with slack for a browser on a loaded test machine.
	testenv.Eventually(t, "the broadcast to pause", 2*time.Second, func() bool { return s.status(id) == "paused" })
	testenv.Eventually(t, "the page to show paused", 5*time.Second, func() bool { return b.liveText("#broadcast-status") == "paused" })
	testenv.Eventually(t, "the resume button", 5*time.Second, func() bool { return b.liveClick("#resume") })
	testenv.Eventually(t, "the broadcast to resume", 2*time.Second, func() bool { return s.status(id) == "running" })
	// 20 s at 100 a second; three times that and more on a machine running every test at once.
	testenv.Eventually(t, "the broadcast to complete", 2*time.Minute, func() bool { return s.status(id) == "completed" })

	status, csv := b.fetch("GET", fmt.Sprintf("/broadcasts/%d/recipients.csv", id), nil)
	if lines := strings.Count(csv, "\n"); status != 200 || lines != 2001 || !strings.Contains(csv, "+12122000000") {
		t.Fatalf("CSV: %d, %d lines", status, lines)
	}
	b.run(b.open(fmt.Sprintf("/broadcasts/%d/report", id)), chromedp.WaitVisible(chromedp.CSS("#recipients")))
	b.screenshot("report")

	// A change without the CSRF token is refused, and changes nothing.
	if st, _ := b.fetch("POST", fmt.Sprintf("/broadcasts/%d/cancel", id), nil); st != 403 || s.status(id) != "completed" {
		t.Fatalf("cancel without the CSRF token: %d, now %s", st, s.status(id))
	}
	b.signOut()

	// The analyst sees numbers masked, on the page and in the CSV.
	b.welcome(analystLink)
	b.enrol()
	b.run(b.open(fmt.Sprintf("/broadcasts/%d/report", id)), chromedp.WaitVisible(chromedp.CSS("#recipients")))
	if cell := b.text("#recipients td.phone"); !strings.Contains(cell, "*") || strings.Contains(b.text("#recipients"), "+12122000000") {
		t.Fatalf("an analyst sees %q", cell)
	}
	if _, csv := b.fetch("GET", fmt.Sprintf("/broadcasts/%d/recipients.csv", id), nil); strings.Contains(csv, "+12122000000") {
		t.Fatal("an analyst's CSV shows numbers in clear")
	}
	b.signOut()

	// A user of another account gets 404 for this account's broadcast.
	var other int64
	if err := s.pool.QueryRow(ctx, `INSERT INTO accounts (name) VALUES ('globex') RETURNING id`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	b.welcome(s.createUser(other, "owner@globex.example", "owner"))
	b.run(chromedp.WaitVisible(chromedp.CSS("#day-h")))
	for _, path := range []string{"", "/live", "/report", "/recipients.csv"} {
		if st, _ := b.fetch("GET", fmt.Sprintf("/broadcasts/%d%s", id, path), nil); st != 404 {
			t.Errorf("another account's GET %s: %d", path, st)
		}
	}
	var audited int
	_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE account_id = $1 AND action = 'broadcast.export_recipients'`, account).Scan(&audited)
	if audited != 2 {
		t.Errorf("%d CSV downloads audited, want 2", audited)
	}
}
