package console

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/dripcast/dripcast/people"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/role"
)

//go:embed pages/*.html
var pageFS embed.FS

//go:embed static
var staticFS embed.FS

// assets maps each static file to its cache-busting name (name.<hash>.ext) and back.
var assets = func() struct{ byName, byHashed map[string]string } {
	a := struct{ byName, byHashed map[string]string }{map[string]string{}, map[string]string{}}
	entries, _ := fs.ReadDir(staticFS, "static")
	for _, e := range entries {
		b, _ := staticFS.ReadFile("static/" + e.Name())
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.byName[e.Name()], a.byHashed[hashed] = hashed, e.Name()
	}
	return a
}()

// serveAsset serves a static file by its hashed name, cached for a year (a change is a new name).
func serveAsset(w http.ResponseWriter, r *http.Request) {
	name, ok := assets.byHashed[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, _ := staticFS.ReadFile("static/" + name)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

var funcs = template.FuncMap{
	"asset":    func(name string) string { return "/assets/" + assets.byName[name] },
	"progress": progress[int64, int32],
	"audience": audienceOf,
	"add":      func(a, b any) int64 { return toInt(a) + toInt(b) },
	"mul":      func(a, b any) int64 { return toInt(a) * toInt(b) },
}

// toInt reads a template's whole number of any width.
func toInt(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	return 0
}

// pageTemplates parses each page with the layout, once.
var pageTemplates = sync.OnceValue(func() map[string]*template.Template {
	m := map[string]*template.Template{}
	entries, err := fs.ReadDir(pageFS, "pages")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		m[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(pageFS, "pages/layout.html", "pages/partials.html",
			"pages/"+e.Name()))
	}
	return m
})

// view is what every page's template gets.
type view struct {
	Title string
	S     people.Session // empty before sign-in
	CSRF  string
	F     format
	Nav   string // the section to highlight
	D     any    // the page's own data
}

// render writes a page (or, for names ending in "-part", a fragment without the layout).
func (c *Console) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, data any) {
	t, ok := pageTemplates()[name]
	if !ok {
		c.log.Error("console: no such page template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	vw := view{Title: title, S: v.sess, CSRF: v.csrf, F: newFormat(v.sess), Nav: strings.Split(r.URL.Path, "/")[1], D: data}
	var buf bytes.Buffer
	entry := "layout"
	if strings.HasSuffix(name, "-part") {
		entry = "content"
	}
	if err := t.ExecuteTemplate(&buf, entry, vw); err != nil {
		c.log.Error("console: render failed", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// format shows numbers in the account's locale, times in its zone (named), and phone numbers in
// clear or masked by the viewer's role.
type format struct {
	p      *message.Printer
	loc    *time.Location
	masked bool
}

func newFormat(s people.Session) format {
	tag, err := language.Parse(s.Locale)
	if err != nil {
		tag = language.AmericanEnglish
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "" {
		loc = time.UTC
	}
	return format{p: message.NewPrinter(tag), loc: loc, masked: s.Role != "" && !role.SeesPhones(s.Role)}
}

// Num is a count with the locale's digit grouping ("–" for a nil pointer).
func (f format) Num(n any) string {
	switch x := n.(type) {
	case *int32:
		if x == nil {
			return "–"
		}
		n = *x
	case *int64:
		if x == nil {
			return "–"
		}
		n = *x
	}
	return f.p.Sprintf("%d", n)
}

// Size is a file's size in bytes, KB or MB (of 1,024), with one decimal above bytes.
func (f format) Size(n int64) string {
	switch {
	case n < 1<<10:
		return f.p.Sprintf("%d B", n)
	case n < 1<<20:
		return f.p.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return f.p.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// Seconds is a number of seconds as a duration ("–" for a nil pointer).
func (f format) Seconds(s *int64) string {
	if s == nil {
		return "–"
	}
	return f.Duration(time.Duration(*s) * time.Second)
}

// Pct is a share as a percentage with one decimal ("–" when there is none).
func (f format) Pct(v any) string {
	switch x := v.(type) {
	case *float64:
		if x == nil {
			return "–"
		}
		return f.p.Sprintf("%.1f %%", *x*100)
	case float64:
		return f.p.Sprintf("%.1f %%", x*100)
	}
	return "–"
}

// Time is an instant in the account's zone, with the zone named ("–" for none).
func (f format) Time(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return "–"
		}
		t = *x
	default:
		return "–"
	}
	return t.In(f.loc).Format("2 Jan 2006 15:04 MST")
}

// Zone is the account's time zone's name.
func (f format) Zone() string { return f.loc.String() }

// Duration is a length of time in hours, minutes and seconds.
func (f format) Duration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	h, m := int(d.Hours()), int(math.Mod(d.Minutes(), 60))
	if h == 0 {
		return fmt.Sprintf("%d min %d s", m, int(math.Mod(d.Seconds(), 60)))
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// Phone is a number as the viewer may see it.
func (f format) Phone(s string) string {
	if f.masked {
		return phone.Mask(s)
	}
	return s
}

// With pairs the format with a page's value, for a shared template.
func (f format) With(v any) struct {
	F format
	R any
} {
	return struct {
		F format
		R any
	}{f, v}
}

// Masked tells whether the viewer sees phone numbers masked.
func (f format) Masked() bool { return f.masked }

// newToken is 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
