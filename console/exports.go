package console

import (
	"net/http"
	"strconv"

	"github.com/dripcast/dripcast/exports"
	"github.com/dripcast/dripcast/role"
)

// exportsShown bounds the exports page (requests of the last while, newest first).
const exportsShown = 200

// asker is the visitor as the exports package knows them.
func (v *visit) asker() exports.Asker {
	return exports.Asker{Actor: v.sess.Actor(v.ip), Role: v.sess.Role}
}

// exportRow is one request on the exports page, with whether the visitor may decide it.
type exportRow struct {
	exports.View
	CanDecide bool
}

// exportsPage lists the visitor's requests for bulk exports (every one of the account's to an
// owner or admin, who approve them), with their downloads.
func (c *Console) exportsPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	by := v.asker()
	list, err := exports.List(r.Context(), c.q, by, 0, exportsShown)
	if err != nil {
		return err
	}
	need, err := exports.NeedsApproval(r.Context(), c.q, by)
	if err != nil {
		return err
	}
	admin := role.Names[v.sess.Role]&role.Admins != 0
	rows := make([]exportRow, len(list))
	for i, e := range list {
		rows[i] = exportRow{View: e, CanDecide: admin && !e.Mine && e.Status == "pending"}
	}
	c.render(w, r, v, http.StatusOK, "exports", "Exports", map[string]any{"Rows": rows, "Need": need,
		"Saved": r.URL.Query().Get("saved")})
	return nil
}

// requestExport asks for a bulk export from the report page (recipients) or the audit log (its
// filter in the address, as the audit page's own download has it).
func (c *Console) requestExport(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	in := exports.Request{Kind: f.Get("kind")}
	switch in.Kind {
	case "recipients":
		id, err := strconv.ParseInt(f.Get("broadcast_id"), 10, 64)
		if err != nil {
			return noPage()
		}
		in.BroadcastID, in.Status = id, f.Get("status")
	case "audit":
		filter, errs := auditQuery(r, newFormat(v.sess).loc)
		if len(errs) > 0 {
			return errPage(http.StatusBadRequest, "The filter is not valid; go back and correct it.")
		}
		in.Audit = &filter
	}
	e, err := exports.Ask(r.Context(), c.db, v.asker(), in)
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/exports?saved="+e.Status, http.StatusSeeOther)
	return nil
}

// decideExport approves or rejects another person's request.
func (c *Console) decideExport(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	if action != "approve" && action != "reject" {
		return noPage()
	}
	e, err := exports.Decide(r.Context(), c.db, v.asker(), id, action == "approve")
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/exports?saved="+e.Status, http.StatusSeeOther)
	return nil
}

// downloadExport is the one download of an approved request (masked for an analyst).
func (c *Console) downloadExport(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return exports.Download(r.Context(), c.db, c.read, v.asker(), id, w, func(name string) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}, newFormat(v.sess).masked)
}

// saveExportApproval turns the account's approval of bulk exports on or off (owners).
func (c *Console) saveExportApproval(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	if err := exports.SetNeedApproval(r.Context(), c.db, v.sess.Actor(v.ip), f.Get("required") == "on"); err != nil {
		return err
	}
	http.Redirect(w, r, "/settings?saved=exports", http.StatusSeeOther)
	return nil
}
