package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/exports"
	"github.com/dripcast/dripcast/queries"
)

// auditTargets are what entries are about, for the page's filter.
var auditTargets = []string{"account", "api_key", "broadcast", "channel", "contact", "enrollment", "event", "integration",
	"portfolio", "segment", "sequence", "template", "user"}

// auditPageSize is the entries on one page of the log.
const auditPageSize = 50

// actorChoice is one "who" of the filter: a person or a key.
type actorChoice struct{ Value, Label string }

// auditQuery reads the filter from the page's query: who (user:<id> or key:<id>), what (a target
// type), action, and the days from and to (inclusive, in the account's zone).
func auditQuery(r *http.Request, loc *time.Location) (audit.Filter, map[string]string) {
	q := r.URL.Query()
	f := audit.Filter{TargetType: q.Get("what"), Action: strings.TrimSpace(q.Get("action"))}
	errs := map[string]string{}
	if who := q.Get("who"); who != "" {
		kind, id, _ := strings.Cut(who, ":")
		n, err := strconv.ParseInt(id, 10, 64)
		switch {
		case err != nil:
			errs["who"] = "choose someone from the list"
		case kind == "user":
			f.User = n
		case kind == "key":
			f.KeyID = n
		default:
			errs["who"] = "choose someone from the list"
		}
	}
	for name, dst := range map[string]*time.Time{"from": &f.Since, "to": &f.Until} {
		if v := q.Get(name); v != "" {
			d, err := time.ParseInLocation(time.DateOnly, v, loc)
			if err != nil {
				errs[name] = "give a date"
				continue
			}
			*dst = d
		}
	}
	if !f.Until.IsZero() {
		f.Until = f.Until.AddDate(0, 0, 1) // through the whole last day
	}
	return f, errs
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	f, errs := auditQuery(r, newFormat(v.sess).loc)
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	var entries []audit.Entry
	if len(errs) == 0 {
		var err error
		if entries, err = audit.List(r.Context(), c.read, v.sess.AccountID, f, before, auditPageSize+1); err != nil {
			return err
		}
	}
	next := ""
	if len(entries) > auditPageSize {
		entries = entries[:auditPageSize]
		next = nextPage(r, "before", entries[len(entries)-1].ID)
	}
	who, err := c.actorChoices(r, v)
	if err != nil {
		return err
	}
	approval, err := exports.NeedsApproval(r.Context(), c.q, v.asker())
	if err != nil {
		return err
	}
	export := url.Values{}
	for k, vs := range r.URL.Query() {
		if k != "before" {
			export[k] = vs
		}
	}
	c.render(w, r, v, http.StatusOK, "audit", "Audit log", map[string]any{"Entries": entries, "Next": next, "Who": who,
		"Targets": auditTargets, "Q": r.URL.Query(), "Errors": errs, "Export": "/audit.csv?" + export.Encode(),
		"Request": "/exports?" + export.Encode(), "Approval": approval})
	return nil
}

// actorChoices are the account's people and keys, for the filter.
func (c *Console) actorChoices(r *http.Request, v *visit) ([]actorChoice, error) {
	users, err := c.people.Users(r.Context(), v.sess.AccountID)
	if err != nil {
		return nil, err
	}
	keys, err := c.q.ListAPIKeys(r.Context(), queries.ListAPIKeysParams{AccountID: v.sess.AccountID, Lim: maxKeysShown})
	if err != nil {
		return nil, err
	}
	out := make([]actorChoice, 0, len(users)+len(keys))
	for _, u := range users {
		out = append(out, actorChoice{fmt.Sprint("user:", u.ID), u.Email})
	}
	for _, k := range keys {
		out = append(out, actorChoice{fmt.Sprint("key:", k.ID), "key " + k.Name})
	}
	return out, nil
}

// auditCSV downloads the filtered log (itself an audited act).
func (c *Console) auditCSV(w http.ResponseWriter, r *http.Request, v *visit) error {
	f, errs := auditQuery(r, newFormat(v.sess).loc)
	if len(errs) > 0 {
		return errPage(http.StatusBadRequest, "The filter is not valid; go back and correct it.")
	}
	if err := exports.Direct(r.Context(), c.q, v.asker()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-log.csv"`)
	return audit.Export(r.Context(), c.q, v.sess.Actor(v.ip), w, f)
}
