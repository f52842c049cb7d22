package console

import (
	"net/http"

	"github.com/dripcast/dripcast/role"
)

// usersPage lists the account's people; an owner invites others and can require MFA of all.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showUsers(w, r, v, http.StatusOK, &form{Errors: map[string]string{}}, "")
}

func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form, link string) error {
	users, err := c.people.Users(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	required, err := c.people.RequiresMFA(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "users", "People", map[string]any{"Users": users, "Form": f, "Link": link,
		"Roles": role.People, "RequireMFA": required, "Saved": r.URL.Query().Get("saved")})
	return nil
}

// invite creates a user and shows the one-time link to hand over (valid 72 hours, once).
func (c *Console) invite(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	_, token, err := c.people.Invite(r.Context(), v.sess.Actor(v.ip), f.Get("email"), f.Get("role"))
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showUsers(w, r, v, http.StatusBadRequest, f, "")
	}
	return c.showUsers(w, r, v, http.StatusOK, &form{Errors: map[string]string{}}, LinkURL(c.base(r), token))
}

// display sets the account's time zone and locale (how every page shows times and numbers).
func (c *Console) display(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	if err := f.take(c.people.SetDisplay(r.Context(), v.sess.Actor(v.ip), f.Get("time_zone"), f.Get("locale"))); err != nil {
		return err
	}
	if !f.ok() {
		return c.showUsers(w, r, v, http.StatusBadRequest, f, "")
	}
	http.Redirect(w, r, "/users?saved=display", http.StatusSeeOther)
	return nil
}

func (c *Console) requireMFA(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := c.people.RequireMFA(r.Context(), v.sess.Actor(v.ip), r.PostForm.Get("require_mfa") == "on"); err != nil {
		return err
	}
	http.Redirect(w, r, "/users?saved=mfa", http.StatusSeeOther)
	return nil
}
