package console

import (
	"fmt"
	"net/http"

	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/queries"
)

// enrollmentsShown is how many enrollments a sequence's page lists.
const enrollmentsShown = 50

func (c *Console) sequenceList(w http.ResponseWriter, r *http.Request, v *visit) error {
	rows, err := c.q.ListSequences(r.Context(), queries.ListSequencesParams{AccountID: v.sess.AccountID, Lim: listLimit})
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "sequences", "Sequences", map[string]any{"Sequences": rows})
	return nil
}

// stepView is one step as the sequence's page lists it: its template's name and its funnel.
type stepView struct {
	N        int
	Step     drip.Step
	Template string
	Report   *drip.StepReport
}

// sequencePage shows a sequence: its state and the actions it allows, its steps with each one's
// funnel, its enrollments by state and exit reason, and the latest enrollments.
func (c *Console) sequencePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx, account := r.Context(), v.sess.AccountID
	seq, err := drip.GetSequence(ctx, c.q, account, id)
	if err != nil {
		return err
	}
	rep, err := drip.LoadReport(ctx, c.q, account, id)
	if err != nil {
		return err
	}
	steps := make([]stepView, len(seq.Steps))
	for i, st := range seq.Steps {
		steps[i] = stepView{N: i + 1, Step: st, Template: fmt.Sprintf("template #%d", st.TemplateID)}
		if t, err := c.q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: account, ID: st.TemplateID}); err == nil {
			steps[i].Template = t.Name
		}
		for j := range rep.Steps {
			if rep.Steps[j].Step == i {
				steps[i].Report = &rep.Steps[j]
			}
		}
	}
	enrollments, err := c.q.ListEnrollments(ctx, queries.ListEnrollmentsParams{AccountID: account, SequenceID: id, Lim: enrollmentsShown})
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "sequence", seq.Name, map[string]any{"Seq": seq, "Report": rep, "Steps": steps,
		"Enrollments": enrollments, "Saved": r.URL.Query().Get("done")})
	return nil
}

// sequenceAction activates, pauses, resumes or archives a sequence.
func (c *Console) sequenceAction(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	switch action {
	case drip.ActionActivate, drip.ActionPause, drip.ActionResume, drip.ActionArchive:
	default:
		return noPage()
	}
	if _, err := drip.Move(r.Context(), c.db, v.sess.Actor(v.ip), id, action); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/sequences/%d?done=%s", id, action), http.StatusSeeOther)
	return nil
}
