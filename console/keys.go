package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/dripcast/dripcast/apikey"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
)

// maxKeysShown bounds the keys page (an account has a handful).
const maxKeysShown = 500

// keyRoles are the roles a key can have, most powerful first.
var keyRoles = append(slices.Clone(role.People), "integration")

// keysShown is what the keys page shows besides the list: the form, a new key's secret (shown
// this once), or a revocation the rules refused.
type keysShown struct {
	f               *form
	secret, refused string
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showKeys(w, r, v, http.StatusOK, keysShown{f: &form{Errors: map[string]string{}}})
}

func (c *Console) showKeys(w http.ResponseWriter, r *http.Request, v *visit, status int, k keysShown) error {
	rows, err := c.q.ListAPIKeys(r.Context(), queries.ListAPIKeysParams{AccountID: v.sess.AccountID, Lim: maxKeysShown})
	if err != nil {
		return err
	}
	keys := make([]apikey.View, len(rows))
	for i, row := range rows {
		keys[i] = apikey.ViewOf(row)
	}
	c.render(w, r, v, status, "keys", "API keys", map[string]any{"Keys": keys, "Form": k.f, "Secret": k.secret,
		"Refused": k.refused, "Roles": keyRoles, "Now": time.Now(), "Saved": r.URL.Query().Get("saved")})
	return nil
}

// createKey makes a key and shows its secret once.
func (c *Console) createKey(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	in := apikey.Input{Name: f.Get("name"), Role: f.Get("role")}
	if day := f.Get("last_day"); day != "" {
		d, err := time.ParseInLocation(time.DateOnly, day, newFormat(v.sess).loc)
		if err != nil {
			f.Errors["last_day"] = "give a date, or leave it empty for a key that does not expire"
			return c.showKeys(w, r, v, http.StatusBadRequest, keysShown{f: f})
		}
		end := d.AddDate(0, 0, 1) // the key works through the whole of its last day, account time
		in.ExpiresAt = &end
	}
	view, err := apikey.Create(r.Context(), c.db, v.sess.Actor(v.ip), in)
	if e, ok := invalid.As(err); ok && e.Field == "expires_at" {
		e.Field, e.Message = "last_day", "the last day must be today or later"
	}
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showKeys(w, r, v, http.StatusBadRequest, keysShown{f: f})
	}
	return c.showKeys(w, r, v, http.StatusCreated, keysShown{f: &form{Errors: map[string]string{}}, secret: view.Key})
}

// revokeKey ends a key at once; the account's last owner key stays (the rules say why).
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = apikey.Revoke(r.Context(), c.db, v.sess.Actor(v.ip), id)
	if in, ok := invalid.As(err); ok && in.Code == invalid.CodeConflict {
		return c.showKeys(w, r, v, http.StatusConflict, keysShown{f: &form{Errors: map[string]string{}}, refused: in.Message})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/keys?saved=revoked", http.StatusSeeOther)
	return nil
}
