package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/pquerna/otp"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/people"
)

// form is a page's inputs as typed and the errors to show beside them.
type form struct {
	Values url.Values
	Errors map[string]string
	Error  string // about the form as a whole
}

func newForm(r *http.Request) *form { return &form{Values: r.PostForm, Errors: map[string]string{}} }

// Get is the typed value of a field.
func (f *form) Get(name string) string { return f.Values.Get(name) }

// Checked says whether a box of the field with this value was ticked.
func (f *form) Checked(name, value string) bool { return slices.Contains(f.Values[name], value) }

// take files err beside its field (or above the form): an input error is the person's to fix;
// any other error comes back.
func (f *form) take(err error) error {
	if e, ok := invalid.As(err); ok && e.Code == invalid.Code {
		if e.Field == "" {
			f.Error = e.Message
		} else {
			f.Errors[e.Field] = e.Message
		}
		return nil
	}
	return err
}

// ok tells whether the form has no error to show.
func (f *form) ok() bool { return f.Error == "" && len(f.Errors) == 0 }

// after is where a sign-in goes next: the page the person asked for, if it is one of ours.
func after(next string, sess people.Session) string {
	switch {
	case sess.Stage == people.StageMFA:
		return "/signin/code"
	case sess.Stage == people.StageEnrol:
		return "/account/mfa"
	case localPath.MatchString(next) && !strings.HasPrefix(next, "//"):
		return next
	}
	return "/"
}

// localPath is a path of this site as the console makes them: no scheme, no host, no backslash,
// no control character a browser would drop to read "//host".
var localPath = regexp.MustCompile(`^/[A-Za-z0-9/_.~%=&?-]*$`)

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	c.render(w, r, v, http.StatusOK, "signin", "Sign in", &form{Values: r.URL.Query(), Errors: map[string]string{}})
	return nil
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	sess, err := c.people.SignIn(r.Context(), f.Get("email"), f.Get("password"), v.ip)
	var throttled *people.Throttled
	switch {
	case errors.Is(err, people.ErrCredentials), errors.Is(err, people.ErrAddress), errors.As(err, &throttled):
		f.Error = err.Error()
		c.render(w, r, v, http.StatusUnauthorized, "signin", "Sign in", f)
		return nil
	case err != nil:
		return err
	}
	c.setSession(w, r, sess)
	http.Redirect(w, r, after(r.URL.Query().Get("next"), sess), http.StatusSeeOther)
	return nil
}

func (c *Console) welcomePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	u, err := c.people.LinkUser(r.Context(), r.PathValue("token"))
	if errors.Is(err, people.ErrLink) {
		return errPage(http.StatusNotFound, err.Error()+" Ask an owner of the account for a new one.")
	}
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "welcome", "Welcome", map[string]any{"Email": u.Email, "Form": &form{Errors: map[string]string{}}})
	return nil
}

func (c *Console) welcome(w http.ResponseWriter, r *http.Request, v *visit) error {
	token := r.PathValue("token")
	u, err := c.people.LinkUser(r.Context(), token)
	if errors.Is(err, people.ErrLink) {
		return errPage(http.StatusNotFound, err.Error())
	}
	if err != nil {
		return err
	}
	f := newForm(r)
	if f.Get("password") != f.Get("confirm") {
		f.Errors["confirm"] = "the two passwords differ"
	} else {
		sess, err := c.people.SetPasswordByLink(r.Context(), token, f.Get("password"), v.ip)
		if err = f.take(err); err != nil {
			return err
		}
		if f.ok() {
			c.setSession(w, r, sess)
			http.Redirect(w, r, after("/", sess), http.StatusSeeOther)
			return nil
		}
	}
	c.render(w, r, v, http.StatusBadRequest, "welcome", "Welcome", map[string]any{"Email": u.Email, "Form": f})
	return nil
}

func (c *Console) codePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.sess.Stage != people.StageMFA {
		return redirect("/")
	}
	c.render(w, r, v, http.StatusOK, "code", "Two-step sign-in", &form{Errors: map[string]string{}})
	return nil
}

func (c *Console) code(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	sess, err := c.people.VerifyMFA(r.Context(), v.token, f.Get("code"), v.ip)
	var throttled *people.Throttled
	switch {
	case errors.Is(err, people.ErrCode), errors.As(err, &throttled):
		f.Errors["code"] = err.Error()
		c.render(w, r, v, http.StatusUnauthorized, "code", "Two-step sign-in", f)
		return nil
	case errors.Is(err, people.ErrNoSession):
		return redirect("/signin")
	case err != nil:
		return err
	}
	c.setSession(w, r, sess)
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// enrolment is the MFA page's data.
type enrolment struct {
	Secret string
	QR     template.URL // a PNG as a data: address (CSP allows data: images only)
	Codes  []string     // the recovery codes, shown once after confirming
	Form   *form
}

func (c *Console) mfaPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.sess.Stage == people.StageMFA {
		return redirect("/signin/code")
	}
	if v.sess.HasMFA {
		c.render(w, r, v, http.StatusOK, "mfa", "Two-step sign-in", enrolment{})
		return nil
	}
	data, err := c.offer(r.Context(), v.sess)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "mfa", "Two-step sign-in", data)
	return nil
}

// offer makes a new TOTP key for the user and shows it as a key to type and a QR code.
func (c *Console) offer(ctx context.Context, sess people.Session) (enrolment, error) {
	e, err := c.people.StartEnrol(ctx, sess)
	if err != nil {
		return enrolment{}, err
	}
	key, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		return enrolment{}, err
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return enrolment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return enrolment{}, err
	}
	return enrolment{Secret: e.Secret, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
		Form: &form{Errors: map[string]string{}}}, nil
}

func (c *Console) mfaConfirm(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	codes, sess, err := c.people.ConfirmEnrol(r.Context(), v.token, f.Get("code"), v.ip)
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		// A new key: the page shows it, and the person scans it again.
		data, err := c.offer(r.Context(), v.sess)
		if err != nil {
			return err
		}
		data.Form = f
		c.render(w, r, v, http.StatusBadRequest, "mfa", "Two-step sign-in", data)
		return nil
	}
	if sess.Token != "" {
		c.setSession(w, r, sess)
		v.sess, v.csrf = sess, sess.CSRF
	}
	v.sess.HasMFA = true
	c.render(w, r, v, http.StatusOK, "mfa", "Two-step sign-in", enrolment{Codes: codes})
	return nil
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := c.people.SignOut(r.Context(), v.token); err != nil {
		return err
	}
	c.clearSession(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
	return nil
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	c.render(w, r, v, http.StatusOK, "password", "Password", map[string]any{"Form": &form{Errors: map[string]string{}}})
	return nil
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	if f.Get("password") != f.Get("confirm") {
		f.Errors["confirm"] = "the two passwords differ"
	} else if err := f.take(c.people.ChangePassword(r.Context(), v.token, f.Get("current_password"), f.Get("password"), v.ip)); err != nil {
		return err
	}
	status, done := http.StatusBadRequest, false
	if f.ok() {
		status, done = http.StatusOK, true
	}
	c.render(w, r, v, status, "password", "Password", map[string]any{"Form": f, "Done": done})
	return nil
}
