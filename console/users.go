package console

import (
	"net/http"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/role"
)

// usersPage lists the account's people; an owner invites others and can require MFA of all.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showUsers(w, r, v, http.StatusOK, usersShown{f: &form{Errors: map[string]string{}}})
}

// usersShown is what the people page shows besides the list: the invite form, a new invite's
// link, or a change the rules refused.
type usersShown struct {
	f             *form
	link, refused string
}

func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, v *visit, status int, u usersShown) error {
	users, err := c.people.Users(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	required, err := c.people.RequiresMFA(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "users", "People", map[string]any{"Users": users, "Form": u.f, "Link": u.link, "Refused": u.refused,
		"Roles": role.People, "RequireMFA": required, "Saved": r.URL.Query().Get("saved"), "Me": v.sess.UserID})
	return nil
}

// manageUser changes a person's role, resets their two-step sign-in, or removes them. What the
// rules refuse (the last owner, oneself) is shown above the list.
func (c *Console) manageUser(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx, by, action := r.Context(), v.sess.Actor(v.ip), r.PathValue("action")
	switch action {
	case "role":
		err = c.people.ChangeRole(ctx, by, id, r.PostForm.Get("role"))
	case "reset-mfa":
		err = c.people.ResetMFA(ctx, by, id)
	case "remove":
		err = c.people.Remove(ctx, by, id)
	default:
		return noPage()
	}
	if in, ok := invalid.As(err); ok && in.Code != invalid.CodeNotFound {
		return c.showUsers(w, r, v, http.StatusConflict, usersShown{f: &form{Errors: map[string]string{}}, refused: in.Message})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/users?saved="+action, http.StatusSeeOther)
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
		return c.showUsers(w, r, v, http.StatusBadRequest, usersShown{f: f})
	}
	return c.showUsers(w, r, v, http.StatusOK, usersShown{f: &form{Errors: map[string]string{}}, link: LinkURL(c.base(r), token)})
}

// display sets the account's time zone and locale (how every page shows times and numbers).
func (c *Console) display(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	if err := f.take(c.people.SetDisplay(r.Context(), v.sess.Actor(v.ip), f.Get("time_zone"), f.Get("locale"))); err != nil {
		return err
	}
	if !f.ok() {
		return c.showUsers(w, r, v, http.StatusBadRequest, usersShown{f: f})
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
