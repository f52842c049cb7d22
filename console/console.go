// Package console serves the marketer's web console from the api role: server-rendered pages
// (html/template), assets embedded in the binary, people signed in with sessions kept in Postgres
// (the people package), a CSRF token on every change and a strict Content-Security-Policy. Pages
// call the same domain packages as the JSON API, so a rule lives in one place.
package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/clock"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/iprange"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/people"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/whatsapp"
)

// Options of the console.
type Options struct {
	Secrets *secrets.Box     // opens channel tokens (test sends) and seals TOTP secrets
	Meta    *whatsapp.Client // test sends; nil refuses them
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto.
	TrustedProxies []netip.Prefix
	// MaxFormBytes bounds a form's body (1 MiB when 0: room for 10,000 pasted numbers).
	MaxFormBytes int64
	// PublicURL is where people reach the console, for invite links; empty uses the request's
	// host.
	PublicURL string
	// ImportMaxBytes and ImportMaxRows bound one contact import (512 MiB and 2,000,000 when 0).
	ImportMaxBytes int64
	ImportMaxRows  int
	// Drips enrolls contacts by hand; one on the real clock, counting into a registry of its own,
	// when nil.
	Drips *drip.Engine
	// Redis is the limiter's: erasing a person forgets them there too.
	Redis redis.UniversalClient
	// Replica, when set, serves the reads of reports, recipient lists and exports, and of the audit
	// log (a streaming replica: see api.Options.Replica).
	Replica *pgxpool.Pool
}

// Console holds what the pages share.
type Console struct {
	db     *pgxpool.Pool
	q      *queries.Queries
	read   *queries.Queries // the replica's, or q
	people *people.Service
	sender broadcast.Sender
	drips  *drip.Engine
	log    *slog.Logger
	opts   Options
}

// New builds the console.
func New(db *pgxpool.Pool, log *slog.Logger, opts Options) *Console {
	if opts.MaxFormBytes <= 0 {
		opts.MaxFormBytes = 1 << 20
	}
	if opts.ImportMaxBytes <= 0 {
		opts.ImportMaxBytes = 512 << 20
	}
	if opts.ImportMaxRows <= 0 {
		opts.ImportMaxRows = 2_000_000
	}
	if opts.Drips == nil {
		opts.Drips = drip.New(db, clock.Real{}, log, metrics.New(prometheus.NewRegistry()))
	}
	read := queries.New(db)
	if opts.Replica != nil {
		read = queries.New(opts.Replica)
	}
	return &Console{db: db, q: queries.New(db), read: read, people: people.New(db, opts.Secrets),
		sender: broadcast.Sender{Meta: opts.Meta, Secrets: opts.Secrets}, drips: opts.Drips, log: log, opts: opts}
}

// LinkURL is the address of a one-time link (first sign-in, invite) on a console at base.
func LinkURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/welcome/" + url.PathEscape(token)
}

// access says who may open a page.
type access int

const (
	public  access = iota // anyone: sign-in, one-time links, assets
	pending               // a session in any stage (entering a code, setting up MFA)
	member                // an active session, of a role the page allows
)

// visit is one request's caller.
type visit struct {
	sess  people.Session
	token string
	ip    netip.Addr
	csrf  string // the token forms carry: the session's, or the pre-session cookie's
}

// handler serves a page; an error is shown as an error page.
type handler func(w http.ResponseWriter, r *http.Request, v *visit) error

// page is one route of the console.
type page struct {
	method, path string
	access       access
	roles        role.Set
	h            handler
}

func (c *Console) pages() []page {
	return []page{
		{"GET", "/signin", public, 0, c.signInPage},
		{"POST", "/signin", public, 0, c.signIn},
		{"GET", "/welcome/{token}", public, 0, c.welcomePage},
		{"POST", "/welcome/{token}", public, 0, c.welcome},
		{"GET", "/signin/code", pending, 0, c.codePage},
		{"POST", "/signin/code", pending, 0, c.code},
		{"GET", "/account/mfa", pending, 0, c.mfaPage},
		{"POST", "/account/mfa", pending, 0, c.mfaConfirm},
		{"POST", "/signout", pending, 0, c.signOut},
		{"GET", "/account/password", member, role.Readers, c.passwordPage},
		{"POST", "/account/password", member, role.Readers, c.changePassword},
		{"GET", "/{$}", member, role.Readers, c.home},
		{"GET", "/broadcasts", member, role.Readers, c.broadcastList},
		{"GET", "/broadcasts/new", member, role.Editors, c.newBroadcast},
		{"POST", "/broadcasts/new", member, role.Editors, c.composeBroadcast},
		{"GET", "/broadcasts/new/template", member, role.Editors, c.templatePart},
		{"GET", "/broadcasts/new/audience", member, role.Editors, c.audiencePart},
		{"GET", "/broadcasts/{id}", member, role.Readers, c.broadcastPage},
		{"GET", "/broadcasts/{id}/edit", member, role.Editors, c.editBroadcast},
		{"POST", "/broadcasts/{id}/edit", member, role.Editors, c.updateBroadcast},
		{"GET", "/broadcasts/{id}/live", member, role.Readers, c.livePart},
		{"POST", "/broadcasts/{id}/{action}", member, role.Editors, c.broadcastAction},
		{"GET", "/broadcasts/{id}/report", member, role.Readers, c.reportPage},
		{"GET", "/broadcasts/{id}/recipients.csv", member, role.Readers, c.recipientsCSV},
		{"POST", "/broadcasts/{id}/retarget", member, role.Editors, c.retarget},
		{"GET", "/contacts", member, role.Readers, c.contactList},
		{"GET", "/contacts/new", member, role.Editors, c.newContact},
		{"POST", "/contacts/new", member, role.Editors, c.createContact},
		{"GET", "/contacts/import", member, role.Editors, c.importPage},
		{"POST", "/contacts/import", member, role.Editors, c.runImport},
		{"GET", "/contacts/imports/{id}", member, role.Editors, c.importResult},
		{"GET", "/contacts/imports/{id}/rejects.csv", member, role.Editors, c.rejectsCSV},
		{"GET", "/contacts/{id}", member, role.Readers, c.contactPage},
		{"POST", "/contacts/{id}", member, role.Editors, c.updateContact},
		{"POST", "/contacts/{id}/consent/{choice}", member, role.Editors, c.consent},
		{"POST", "/contacts/{id}/delete", member, role.Editors, c.deleteContact},
		{"POST", "/contacts/{id}/export", member, role.Admins, c.exportPerson},
		{"POST", "/contacts/{id}/erase", member, role.Admins, c.erasePerson},
		{"GET", "/sequences", member, role.Readers, c.sequenceList},
		{"GET", "/sequences/new", member, role.Editors, c.newSequence},
		{"POST", "/sequences/new", member, role.Editors, c.createSequence},
		{"GET", "/sequences/{id}", member, role.Readers, c.sequencePage},
		{"GET", "/sequences/{id}/edit", member, role.Editors, c.editSequence},
		{"POST", "/sequences/{id}/edit", member, role.Editors, c.updateSequence},
		{"POST", "/sequences/{id}/enroll", member, role.Editors, c.enrollContact},
		{"POST", "/sequences/{id}/event", member, role.Editors, c.sendEvent},
		{"POST", "/sequences/{id}/{action}", member, role.Editors, c.sequenceAction},
		{"GET", "/enrollments/{id}", member, role.Readers, c.journeyPage},
		{"POST", "/enrollments/{id}/exit", member, role.Editors, c.exitEnrollment},
		{"GET", "/segments", member, role.Readers, c.segmentList},
		{"GET", "/segments/new", member, role.Editors, c.newSegment},
		{"POST", "/segments/new", member, role.Editors, c.createSegment},
		{"GET", "/segments/count", member, role.Readers, c.countPart},
		{"GET", "/segments/{id}", member, role.Readers, c.segmentPage},
		{"POST", "/segments/{id}", member, role.Editors, c.updateSegment},
		{"POST", "/segments/{id}/delete", member, role.Editors, c.deleteSegment},
		{"GET", "/templates", member, role.Readers, c.templateList},
		{"GET", "/templates/new", member, role.Editors, c.newTemplate},
		{"POST", "/templates/sync", member, role.Editors, c.syncTemplates},
		{"POST", "/templates/new", member, role.Editors, c.createTemplate},
		{"GET", "/templates/{id}", member, role.Readers, c.templatePage},
		{"POST", "/templates/{id}/mapping", member, role.Editors, c.saveMapping},
		{"GET", "/templates/{id}/edit", member, role.Editors, c.editTemplate},
		{"POST", "/templates/{id}/edit", member, role.Editors, c.updateTemplate},
		{"POST", "/templates/{id}/delete", member, role.Editors, c.deleteTemplate},
		{"GET", "/channels", member, role.Readers, c.channelsPage},
		{"GET", "/channels/new", member, role.Admins, c.newChannel},
		{"POST", "/channels/new", member, role.Admins, c.createChannel},
		{"GET", "/channels/{id}", member, role.Readers, c.channelPage},
		{"POST", "/channels/{id}", member, role.Admins, c.updateChannel},
		{"POST", "/channels/{id}/delete", member, role.Admins, c.deleteChannel},
		{"POST", "/channels/{id}/media", member, role.Editors, c.uploadMedia},
		{"POST", "/portfolios", member, role.Admins, c.createPortfolio},
		{"POST", "/portfolios/{id}", member, role.Admins, c.updatePortfolio},
		{"GET", "/integrations", member, role.Readers, c.integrationList},
		{"GET", "/integrations/new", member, role.Admins, c.newIntegration},
		{"POST", "/integrations/new", member, role.Admins, c.createIntegration},
		{"GET", "/integrations/{id}", member, role.Readers, c.integrationPage},
		{"POST", "/integrations/{id}", member, role.Admins, c.updateIntegration},
		{"POST", "/integrations/{id}/delete", member, role.Admins, c.deleteIntegration},
		{"GET", "/users", member, role.Owner, c.usersPage},
		{"POST", "/users", member, role.Owner, c.invite},
		{"POST", "/users/require-mfa", member, role.Owner, c.requireMFA},
		{"POST", "/users/display", member, role.Owner, c.display},
		{"POST", "/users/{id}/{action}", member, role.Owner, c.manageUser},
		{"GET", "/settings", member, role.Admins, c.settingsPage},
		{"POST", "/settings/sending", member, role.Admins, c.saveSending},
		{"POST", "/settings/allowed-ips", member, role.Owner, c.saveAllowedIPs},
		{"POST", "/settings/prices", member, role.Admins, c.savePrices},
		{"GET", "/keys", member, role.Owner, c.keysPage},
		{"POST", "/keys", member, role.Owner, c.createKey},
		{"POST", "/keys/{id}/revoke", member, role.Owner, c.revokeKey},
		{"GET", "/audit", member, role.Admins, c.auditPage},
		{"GET", "/audit.csv", member, role.Admins, c.auditCSV},
		{"GET", "/exports", member, role.Readers, c.exportsPage},
		{"POST", "/exports", member, role.Readers, c.requestExport},
		{"POST", "/exports/{id}/{action}", member, role.Admins, c.decideExport},
		{"GET", "/exports/{id}/download", member, role.Readers, c.downloadExport},
		{"POST", "/settings/exports", member, role.Owner, c.saveExportApproval},
	}
}

// Handler serves every page and the assets.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range c.pages() {
		mux.Handle(p.method+" "+p.path, c.serve(p))
	}
	mux.Handle("GET /assets/{name}", http.HandlerFunc(serveAsset))
	mux.Handle("/", c.serve(page{access: public, h: func(http.ResponseWriter, *http.Request, *visit) error {
		return noPage()
	}}))
	return mux
}

// serve wraps a page: security headers, the session, the CSRF check, the roles, errors.
func (c *Console) serve(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		v := &visit{ip: iprange.ClientIP(r, c.opts.TrustedProxies)}
		err := c.admit(w, r, p, v)
		if err == nil {
			err = p.h(w, r, v)
		}
		if err != nil {
			c.fail(w, r, v, err)
		}
	})
}

// secureHeaders: no inline script or style, no framing, no sniffing, and pages (all of which show
// an account's data or a form) are never cached.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// Cookie names.
const (
	sessionCookie = "dc_session"
	preCookie     = "dc_pre" // the CSRF token of forms shown before sign-in
)

// redirect is an error that sends the browser elsewhere (to sign in, to finish MFA).
type redirect string

func (r redirect) Error() string { return "redirect to " + string(r) }

// admit loads the session the page needs and checks the caller may do what the request does.
func (c *Console) admit(w http.ResponseWriter, r *http.Request, p page, v *visit) error {
	if cookie, err := r.Cookie(sessionCookie); err == nil {
		v.token = cookie.Value
	}
	if p.access != public {
		sess, err := c.people.Load(r.Context(), v.token)
		if errors.Is(err, people.ErrNoSession) {
			return redirect("/signin?next=" + url.QueryEscape(r.URL.RequestURI()))
		}
		if err != nil {
			return err
		}
		if !sess.Allows(v.ip) {
			return errPage(http.StatusForbidden, people.ErrAddress.Error())
		}
		v.sess, v.csrf = sess, sess.CSRF
		if p.access == member {
			switch {
			case sess.Stage == people.StageMFA:
				return redirect("/signin/code")
			case sess.Stage == people.StageEnrol:
				return redirect("/account/mfa")
			case !p.roles.Allows(sess.Role):
				return errPage(http.StatusForbidden, "Your role ("+sess.Role+") may not do this. Ask an owner of the account.")
			}
		}
	} else {
		v.csrf = c.preToken(w, r)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if uploads[p.method+" "+p.path] {
		return nil // the handler reads the body as it streams, CSRF token first (upload)
	}
	return checkForm(w, r, v.csrf, c.opts.MaxFormBytes)
}

// uploads are the routes whose handler streams a multipart body itself and checks its CSRF
// token, the body's first field, before reading anything else (Console.upload).
var uploads = map[string]bool{"POST /contacts/import": true, "POST /channels/{id}/media": true}

// preToken is the CSRF token of a form shown before sign-in: a random value in a cookie that the
// form repeats (a cross-site page can neither read the cookie nor set it).
func (c *Console) preToken(w http.ResponseWriter, r *http.Request) string {
	if cookie, err := r.Cookie(preCookie); err == nil && len(cookie.Value) >= 32 {
		return cookie.Value
	}
	token := newToken()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: c.secure(r)})
	return token
}

// errCSRF refuses a change that does not carry the page's token.
var errCSRF = errPage(http.StatusForbidden, "This form expired or did not come from Dripcast. Go back, reload the page and try again.")

// checkForm bounds the body, parses it, and compares its CSRF token (form field "csrf" or header
// X-CSRF-Token) with want, in constant time.
func checkForm(w http.ResponseWriter, r *http.Request, want string, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		return errPage(http.StatusRequestEntityTooLarge, "The form is too large or malformed.")
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostForm.Get("csrf")
	}
	if !sameToken(got, want) {
		return errCSRF
	}
	return nil
}

// sameToken compares a form's CSRF token with the expected one, in constant time.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// secure tells whether cookies must be Secure: the request came over TLS, or a trusted proxy says
// it did.
func (c *Console) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return iprange.Contains(c.opts.TrustedProxies, iprange.Remote(r)) && r.Header.Get("X-Forwarded-Proto") == "https"
}

// base is the console's address for links people open elsewhere.
func (c *Console) base(r *http.Request) string {
	if c.opts.PublicURL != "" {
		return c.opts.PublicURL
	}
	scheme := "http"
	if c.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// setSession puts a new session's token in the cookie (HttpOnly, SameSite=Lax, Secure over TLS).
func (c *Console) setSession(w http.ResponseWriter, r *http.Request, sess people.Session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: c.secure(r), Expires: sess.ExpiresAt})
}

func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: c.secure(r), MaxAge: -1})
}

// pageError is an error shown as a page with a status.
type pageError struct {
	status  int
	message string
}

func (e *pageError) Error() string { return e.message }

func errPage(status int, message string) *pageError { return &pageError{status, message} }

// noPage is a page that does not exist, or is another account's: the two look alike.
func noPage() *pageError { return errPage(http.StatusNotFound, "There is no such page.") }

// noPageIfMissing is a missing row as a page that does not exist.
func noPageIfMissing(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return noPage()
	}
	return err
}

// pathID is the path's {id}; one that is not a number names no page.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, noPage()
	}
	return id, nil
}

// rowOf is the row of the path's {id} that get finds in the visitor's account (get answers
// not-found for another account's row, which the page shows as no page).
func rowOf[T any](c *Console, r *http.Request, v *visit, get func(context.Context, *queries.Queries, int64, int64) (T, error)) (T, error) {
	id, err := pathID(r)
	if err != nil {
		var none T
		return none, err
	}
	return get(r.Context(), c.q, v.sess.AccountID, id)
}

// nextPage is the address of the next page of a list: this page's query with the cursor set.
func nextPage(r *http.Request, cursor string, id int64) string {
	q := r.URL.Query()
	q.Set(cursor, strconv.FormatInt(id, 10))
	return r.URL.Path + "?" + q.Encode()
}

// fail shows err: a redirect, a page error, the domain's not-found and conflict, or an internal
// error (logged, never shown).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var to redirect
	if errors.As(err, &to) {
		http.Redirect(w, r, string(to), http.StatusSeeOther)
		return
	}
	pe := &pageError{}
	if !errors.As(err, &pe) {
		in, ok := invalid.As(err)
		switch {
		case ok && in.Code == invalid.CodeNotFound:
			pe = noPage()
		case ok && in.Code == invalid.CodeConflict:
			pe = errPage(http.StatusConflict, in.Message)
		case ok && (in.Code == invalid.CodeForbidden || in.Code == invalid.CodeApprovalRequired):
			pe = errPage(http.StatusForbidden, in.Message)
		case ok && in.Code == invalid.CodeGone:
			pe = errPage(http.StatusGone, in.Message)
		case ok:
			pe = errPage(http.StatusBadRequest, in.Error())
		case errors.Is(err, context.Canceled):
			return
		default:
			c.log.Error("console page failed", "path", r.URL.Path, "err", err)
			pe = errPage(http.StatusInternalServerError, "Something went wrong on our side; it was logged.")
		}
	}
	c.render(w, r, v, pe.status, "error", "Error", pe.message)
}
