package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/exports"
	"github.com/dripcast/dripcast/integrations"
	"github.com/dripcast/dripcast/people"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/segment"
	"github.com/dripcast/dripcast/templates"
	"github.com/dripcast/dripcast/testenv"
)

// env is a console on a fresh database.
type env struct {
	t    *testing.T
	pool *pgxpool.Pool
	c    *Console
	srv  *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.DB(t)
	c := New(pool, slog.New(slog.NewTextHandler(testLog{t}, nil)), Options{Secrets: testenv.Secrets(t), Redis: testenv.Redis(t)})
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, pool: pool, c: c, srv: srv}
}

// testLog shows the console's log in the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (e *env) account(name string) int64 {
	a, err := queries.New(e.pool).CreateAccount(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// browser is a signed-in cookie jar of one user.
type browser struct {
	e    *env
	http *http.Client
	csrf string
}

// signIn creates a user of the account with the role and signs in as that user.
func (e *env) signIn(account int64, roleName string) *browser {
	e.t.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("%s-%d@example.com", roleName, account)
	_, token, err := e.c.people.Invite(ctx, audit.Actor{AccountID: account}, email, roleName)
	if err != nil {
		e.t.Fatal(err)
	}
	sess, err := e.c.people.SetPasswordByLink(ctx, token, "plum tree by the harbour", netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		e.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: sess.Token, Path: "/"}})
	return &browser{e: e, csrf: sess.CSRF, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a request (a form with the CSRF token for POST) and returns the status and body.
func (b *browser) do(method, path string, form url.Values) (int, string) {
	b.e.t.Helper()
	var body io.Reader
	if method == "POST" {
		if form == nil {
			form = url.Values{}
		}
		if !form.Has("csrf") {
			form.Set("csrf", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.e.srv.URL+path, body)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.http.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// broadcastOf makes a channel, a template and a broadcast in the account, in the database.
func (e *env) broadcastOf(account int64) int64 {
	e.t.Helper()
	ctx := context.Background()
	q := queries.New(e.pool)
	p, err := q.CreatePortfolio(ctx, queries.CreatePortfolioParams{AccountID: account, Name: "p"})
	if err != nil {
		e.t.Fatal(err)
	}
	ch, err := q.CreateChannel(ctx, queries.CreateChannelParams{AccountID: account, PortfolioID: p.ID, PhoneNumberID: fmt.Sprint(1000 + account),
		WabaID: "w", DisplayNumber: "+14155550100", AccessTokenEnc: []byte("x"), AppSecretEnc: []byte("x"), MetaMps: 80, QualityRating: "GREEN"})
	if err != nil {
		e.t.Fatal(err)
	}
	tpl, err := q.CreateTemplate(ctx, queries.CreateTemplateParams{AccountID: account, Name: "promo", Language: "en", Category: "marketing",
		Status: "approved", Components: []byte(`{"body":{"text":"Hi there"}}`), Parameters: []byte(`{}`)})
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := q.CreateBroadcast(ctx, queries.CreateBroadcastParams{AccountID: account, ChannelID: ch.ID, TemplateID: tpl.ID, Name: "Sale",
		Status: queries.BroadcastStatusScheduled, Audience: []byte(`{"tag":"vip"}`), Parameters: []byte(`{}`)})
	if err != nil {
		e.t.Fatal(err)
	}
	return b.ID
}

// Every page that needs a session, opened by every role: a role the page does not list gets 403
// before the page runs; the others reach it.
func TestEveryPageChecksRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	browsers := map[string]*browser{}
	for _, name := range role.People {
		browsers[name] = e.signIn(account, name)
	}
	walked := 0
	for _, p := range e.c.pages() {
		if p.access != member {
			continue
		}
		if p.roles == 0 {
			t.Errorf("%s %s declares no roles", p.method, p.path)
		}
		path := strings.NewReplacer("{id}", "999999", "{action}", "pause", "{choice}", "opt-out", "{$}", "").Replace(p.path)
		for name, b := range browsers {
			status, _ := b.do(p.method, path, nil)
			if forbidden := status == http.StatusForbidden; forbidden == p.roles.Allows(name) {
				t.Errorf("%s %s as %s: %d (allowed: %v)", p.method, p.path, name, status, p.roles.Allows(name))
			}
		}
		walked++
	}
	if walked < 15 {
		t.Fatalf("walked %d pages", walked)
	}
}

// A user of another account sees 404 for every page of this account's broadcast, person and key,
// and changes nothing.
func TestAnotherAccountSeesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mine := e.account("acme")
	id := e.broadcastOf(mine)
	person, _, err := e.c.people.Invite(context.Background(), audit.Actor{AccountID: mine}, "bo@example.com", "marketer")
	if err != nil {
		t.Fatal(err)
	}
	key, err := apikey.Create(context.Background(), e.pool, audit.Actor{AccountID: mine}, apikey.Input{Name: "shop", Role: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	contact, _, err := contacts.Save(context.Background(), e.pool, audit.Actor{AccountID: mine}, contacts.Input{Phone: "+14155550111",
		Name: ptr("Ana"), OptedIn: ptr(true), OptInSource: "website_form"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Create(context.Background(), e.pool, audit.Actor{AccountID: mine}, templates.Template{Name: "welcome",
		Language: "en", Category: "utility", Components: templates.Components{Body: templates.Text{Text: "Hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := integrations.Create(context.Background(), e.pool, testenv.Secrets(t), audit.Actor{AccountID: mine}, integrations.Input{
		Name: ptr("Store"), Kind: integrations.Generic, Mapping: &integrations.Mapping{Phone: "phone", EventName: "order.placed"}})
	if err != nil {
		t.Fatal(err)
	}
	var channel, portfolio int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id, portfolio_id FROM channels WHERE account_id = $1`, mine).Scan(&channel, &portfolio); err != nil {
		t.Fatal(err)
	}
	imported, err := queries.New(e.pool).CreateImport(context.Background(), queries.CreateImportParams{AccountID: mine, FileName: "list.csv",
		Errors: []byte(`[{"line": 2, "reason": "phone: not a number"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := segment.Create(context.Background(), e.pool, audit.Actor{AccountID: mine}, "VIP", []byte(`{"field":"tags","op":"contains","value":"vip"}`))
	if err != nil {
		t.Fatal(err)
	}
	var promo int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM templates WHERE account_id = $1 AND name = 'promo'`, mine).Scan(&promo); err != nil {
		t.Fatal(err)
	}
	asked, err := exports.Ask(context.Background(), e.pool, exports.Asker{Actor: audit.Actor{AccountID: mine, KeyID: key.ID, Name: "shop"}, Role: "owner"},
		exports.Request{Kind: "recipients", BroadcastID: id})
	if err != nil {
		t.Fatal(err)
	}
	seq := e.sequenceOf(mine, promo)
	enrollment := e.enrollmentOf(mine, promo, contact.ID)
	ids := map[string]int64{"/sequences/": seq, "/enrollments/": enrollment, "/segments/": seg.ID, "/broadcasts/": id, "/users/": person.ID, "/keys/": key.ID, "/contacts/": contact.ID, "/templates/": tpl.ID,
		"/integrations/": hook.ID, "/channels/": channel, "/portfolios/": portfolio, "/contacts/imports/": imported, "/exports/": asked.ID}
	other := e.signIn(e.account("globex"), "owner")
	walked := 0
	for _, p := range e.c.pages() {
		if !strings.Contains(p.path, "{id}") {
			continue
		}
		var target int64
		longest := ""
		for prefix, n := range ids {
			if strings.HasPrefix(p.path, prefix) && len(prefix) > len(longest) {
				target, longest = n, prefix
			}
		}
		if target == 0 {
			t.Errorf("%s %s: the walk has no row of this kind", p.method, p.path)
			continue
		}
		for _, action := range []string{"pause", "cancel", "retry-failed", "role", "reset-mfa", "remove", "approve"} {
			path := strings.NewReplacer("{id}", fmt.Sprint(target), "{action}", action, "{choice}", "opt-out").Replace(p.path)
			if status, _ := other.do(p.method, path, url.Values{"role": {"owner"}, "name": {"Mallory"}, "source": {"customer_request"}}); status != http.StatusNotFound {
				t.Errorf("%s %s from another account: %d", p.method, path, status)
			}
		}
		walked++
	}
	if walked < 8 {
		t.Fatalf("walked %d pages", walked)
	}
	q := queries.New(e.pool)
	b, err := q.GetBroadcast(context.Background(), queries.GetBroadcastParams{AccountID: mine, ID: id})
	if err != nil || b.Status != queries.BroadcastStatusScheduled {
		t.Fatalf("the broadcast changed: %s %v", b.Status, err)
	}
	if u, err := q.GetUser(context.Background(), queries.GetUserParams{AccountID: mine, ID: person.ID}); err != nil || u.Role != "marketer" {
		t.Fatalf("the person changed: %q %v", u.Role, err)
	}
	if k, err := q.GetAPIKey(context.Background(), queries.GetAPIKeyParams{AccountID: mine, ID: key.ID}); err != nil || k.RevokedAt != nil {
		t.Fatalf("the key changed: %v %v", k.RevokedAt, err)
	}
	if ch, err := q.GetChannel(context.Background(), queries.GetChannelParams{AccountID: mine, ID: channel}); err != nil || ch.Status != "active" {
		t.Fatalf("the channel changed: %q %v", ch.Status, err)
	}
	if p, err := q.GetPortfolio(context.Background(), queries.GetPortfolioParams{AccountID: mine, ID: portfolio}); err != nil || p.Name != "p" {
		t.Fatalf("the portfolio changed: %q %v", p.Name, err)
	}
	if sq, err := q.GetSequence(context.Background(), queries.GetSequenceParams{AccountID: mine, ID: seq}); err != nil || sq.Status != "draft" {
		t.Fatalf("the sequence changed: %q %v", sq.Status, err)
	}
	if en, err := q.GetEnrollment(context.Background(), queries.GetEnrollmentParams{AccountID: mine, ID: enrollment}); err != nil ||
		en.Status != queries.EnrollmentStatusActive {
		t.Fatalf("the enrollment changed: %q %v", en.Status, err)
	}
	if sg, err := q.GetSegment(context.Background(), queries.GetSegmentParams{AccountID: mine, ID: seg.ID}); err != nil || sg.Name != "VIP" {
		t.Fatalf("the segment changed: %q %v", sg.Name, err)
	}
	if i, err := q.GetIntegration(context.Background(), queries.GetIntegrationParams{AccountID: mine, ID: hook.ID}); err != nil || i.Name != "Store" {
		t.Fatalf("the integration changed: %q %v", i.Name, err)
	}
	if _, err := q.GetTemplate(context.Background(), queries.GetTemplateParams{AccountID: mine, ID: tpl.ID}); err != nil {
		t.Fatalf("the template is gone: %v", err)
	}
	if c, err := q.GetContact(context.Background(), queries.GetContactParams{AccountID: mine, ID: contact.ID}); err != nil ||
		c.Name != "Ana" || !c.OptedIn {
		t.Fatalf("the contact changed: %+v %v", c, err)
	}
	if x, err := q.GetExportRequest(context.Background(), queries.GetExportRequestParams{AccountID: mine, ID: asked.ID}); err != nil ||
		x.Status != "approved" || x.DownloadedAt != nil {
		t.Fatalf("the export changed: %q %v", x.Status, err)
	}
	if status, _ := e.signIn(mine, "marketer").do("GET", fmt.Sprintf("/broadcasts/%d", id), nil); status != http.StatusOK {
		t.Fatalf("its own account: %d", status)
	}
}

// A change without the page's CSRF token is refused and changes nothing; pages carry a strict
// Content-Security-Policy and are not cached.
func TestChangesNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	id := e.broadcastOf(account)
	b := e.signIn(account, "owner")
	for _, token := range []string{"", "forged"} {
		status, _ := b.do("POST", fmt.Sprintf("/broadcasts/%d/pause", id), url.Values{"csrf": {token}})
		if status != http.StatusForbidden {
			t.Errorf("csrf %q: %d", token, status)
		}
	}
	bc, _ := queries.New(e.pool).GetBroadcast(context.Background(), queries.GetBroadcastParams{AccountID: account, ID: id})
	if bc.Status != queries.BroadcastStatusScheduled {
		t.Fatalf("paused without the token: %s", bc.Status)
	}
	if status, _ := b.do("POST", fmt.Sprintf("/broadcasts/%d/pause", id), nil); status != http.StatusSeeOther {
		t.Fatalf("with the token: %d", status)
	}
	res, err := http.Get(e.srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", res.Header)
	}
}

// Signing in by the form: a wrong password gets the form again; the right one a session cookie;
// a page asked for before sign-in is where the browser lands.
func TestSignInForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	e.signIn(account, "marketer") // sets the password
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(e.srv.URL + "/broadcasts")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin?next=") {
		t.Fatalf("signed out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = client.Get(e.srv.URL + res.Header.Get("Location"))
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
	if csrf == nil {
		t.Fatalf("no CSRF token on the sign-in form: %s", page)
	}
	post := func(password string) *http.Response {
		res, err := client.PostForm(e.srv.URL+"/signin?next=%2Fbroadcasts", url.Values{"csrf": {csrf[1]},
			"email": {fmt.Sprintf("marketer-%d@example.com", account)}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post("not the password"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	res = post("plum tree by the harbour")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/broadcasts" {
		t.Fatalf("right password: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", session)
	}
	if res, _ := client.Get(e.srv.URL + "/broadcasts"); res.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", res.StatusCode)
	}
}

// Pages render for every role without a template error (an error page would be 500).
func TestPagesRender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	id := e.broadcastOf(account)
	for _, name := range role.People {
		b := e.signIn(account, name)
		for _, path := range []string{"/", "/broadcasts", "/broadcasts/new", fmt.Sprintf("/broadcasts/%d", id),
			fmt.Sprintf("/broadcasts/%d/live", id), fmt.Sprintf("/broadcasts/%d/report", id), "/users", "/keys", "/audit", "/settings", "/templates", "/templates/new", "/integrations", "/integrations/new", "/channels", "/channels/new", "/contacts/import", "/segments", "/segments/new", "/sequences", "/contacts", "/contacts?q=ana&tag=vip&consent=in&attr=city&value=Pune",
			"/audit?who=user:1&what=user&from=2026-01-01&to=2026-12-31", "/account/mfa", "/account/password"} {
			status, body := b.do("GET", path, nil)
			if status != http.StatusOK && status != http.StatusForbidden {
				t.Errorf("%s as %s: %d %.300s", path, name, status, body)
			}
		}
	}
}

// A broadcast's report tells its unknown sends and how those that were settled were, and offers
// to retry the ones concluded not sent.
func TestReportShowsUnknownOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	id := e.broadcastOf(account)
	_, err := e.pool.Exec(context.Background(), `
		INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, reason, settled)
		SELECT b.account_id, b.channel_id, g, b.template_id, b.id, v.status::message_status, now(), v.reason, v.settled::unknown_resolution
		FROM broadcasts b, generate_series(1, 6) g,
		     (VALUES (1, 'unknown', 'worker_lost', NULL), (2, 'not_sent', 'not_sent', 'grace'), (3, 'not_sent', 'not_sent', 'grace'),
		             (4, 'delivered', NULL, 'webhook'), (5, 'read', NULL, 'requeued'), (6, 'delivered', NULL, NULL)) v(n, status, reason, settled)
		WHERE b.id = $1 AND v.n = g`, id)
	if err != nil {
		t.Fatal(err)
	}
	_, body := e.signIn(account, "marketer").do("GET", fmt.Sprintf("/broadcasts/%d/report", id), nil)
	for _, want := range []string{`<th scope="row">Still unknown</th><td>1</td>`, `<th scope="row">Settled by a status from Meta</th><td>1</td>`,
		`<th scope="row">Sent again: their worker died before writing them</th><td>1</td>`,
		`<th scope="row">Not sent: Meta reported later sends of the number, never these</th><td>2</td>`, "a new broadcast to the 2 not sent"} {
		if !strings.Contains(body, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// A broadcast with a retry policy reports its retries: the log (per retry, how many went), what
// they delivered, how many wait for one; the live view says it is retrying. The funnel is split
// by the path the messages took.
func TestReportShowsRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	account := e.account("acme")
	id := e.broadcastOf(account)
	_, err := e.pool.Exec(context.Background(), `
		WITH b AS (UPDATE broadcasts SET retry_policy = '{"mode": "smart", "days": 3}', status = 'running', started_at = now(),
		                                 retry_wait_until = now() + interval '2 hours'
		           WHERE id = $1 RETURNING *),
		m AS (INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at, reason, retries, sending_at,
		                            delivered_at, sent_at, delivery_path)
		      SELECT b.account_id, b.channel_id, g, b.template_id, b.id, v.status::message_status, now() + interval '2 hours', v.reason, v.retries,
		             now() - interval '1 hour', CASE WHEN v.status = 'delivered' THEN now() END, CASE WHEN v.status = 'delivered' THEN now() END,
		             CASE g WHEN 1 THEN 'marketing_messages' WHEN 3 THEN 'messages' END
		      FROM b, generate_series(1, 3) g,
		           (VALUES (1, 'delivered', NULL, 1), (2, 'pending', 'retry', 1), (3, 'delivered', NULL, 0)) v(n, status, reason, retries)
		      WHERE v.n = g RETURNING id, account_id, broadcast_id, retries)
		INSERT INTO message_attempts (message_id, attempt, account_id, broadcast_id, at, error_code)
		SELECT id, 0, account_id, broadcast_id, now() - interval '1 day', 131000 FROM m WHERE retries = 1`, id)
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn(account, "marketer")
	_, body := b.do("GET", fmt.Sprintf("/broadcasts/%d/report", id), nil)
	for _, want := range []string{`Delivered by a retry: <strong id="delivered-by-retry">1</strong>`, "1 wait for a retry",
		`<tr><th scope="row">1</th><td>1</td>`, `<th scope="row">Marketing Messages API</th>
    <td>1</td><td>1</td>`, `<th scope="row">Cloud API</th>
    <td>1</td><td>1</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if _, body = b.do("GET", fmt.Sprintf("/broadcasts/%d/live", id), nil); !strings.Contains(body, `id="broadcast-status">retrying</span>`) ||
		!strings.Contains(body, `id="waiting-for-retry"`) {
		t.Errorf("the live view does not say it is retrying")
	}
}

// After sign-in the browser goes where it was asked to, but only to a page of this site.
func TestAfterSignInStaysHere(t *testing.T) {
	t.Parallel()
	active := people.Session{Stage: people.StageActive}
	for next, want := range map[string]string{"/broadcasts/7?status=failed": "/broadcasts/7?status=failed", "//evil.example": "/",
		"/\\evil.example": "/", "/\t/evil.example": "/", "https://evil.example": "/", "": "/"} {
		if got := after(next, active); got != want {
			t.Errorf("after(%q) = %q, want %q", next, got, want)
		}
	}
	if got := after("/broadcasts", people.Session{Stage: people.StageMFA}); got != "/signin/code" {
		t.Errorf("a session waiting for its code goes to %q", got)
	}
}

// Numbers follow the account's locale; times its zone, named; an analyst's phone numbers are
// masked.
func TestFormatFollowsTheAccount(t *testing.T) {
	t.Parallel()
	f := newFormat(people.Session{Locale: "de-DE", TimeZone: "Asia/Kolkata", Role: "marketer"})
	at := time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC)
	if got := f.Num(int64(1234567)); got != "1.234.567" {
		t.Errorf("de-DE number: %q", got)
	}
	if got := f.Time(at); got != "7 Dec 2026 05:00 IST" {
		t.Errorf("Kolkata time: %q", got)
	}
	if got := f.Phone("+919876543210"); got != "+919876543210" {
		t.Errorf("a marketer sees %q", got)
	}
	analyst := newFormat(people.Session{Role: "analyst"})
	if got := analyst.Phone("+919876543210"); !strings.Contains(got, "*") || analyst.Num(int64(2000)) != "2,000" || analyst.Zone() != "UTC" {
		t.Errorf("analyst in an account with no settings: %q %q %q", got, analyst.Num(int64(2000)), analyst.Zone())
	}
}

// An owner sets the account's time zone and locale; a zone that is not one is refused beside its
// field; every page then shows times in the new zone, named.
func TestOwnerSetsZoneAndLocale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.signIn(e.account("acme"), "owner")
	if status, body := b.do("POST", "/users/display", url.Values{"time_zone": {"Mars/Olympus"}, "locale": {"en-IN"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "IANA name") {
		t.Fatalf("a made-up zone: %d", status)
	}
	if status, _ := b.do("POST", "/users/display", url.Values{"time_zone": {"Asia/Kolkata"}, "locale": {"de-DE"}}); status != http.StatusSeeOther {
		t.Fatalf("save: %d", status)
	}
	if _, body := b.do("GET", "/", nil); !strings.Contains(body, "Times in Asia/Kolkata") {
		t.Fatal("the home page does not name the account's zone")
	}
}
