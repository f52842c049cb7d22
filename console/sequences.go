package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/contacts"
	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
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
	Bars     []funnelBar // sent, delivered, read, replied as shares of the enrolled
}

// templateNames names the account's templates by id (a step's template may since be gone).
func (c *Console) templateNames(ctx context.Context, account int64) (map[int64]string, error) {
	all, err := c.q.ListTemplates(ctx, queries.ListTemplatesParams{AccountID: account, Lim: listLimit})
	names := map[int64]string{}
	for _, t := range all {
		names[t.ID] = t.Name
	}
	return names, err
}

func (c *Console) sequencePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showSequence(w, r, v, http.StatusOK, &form{Values: url.Values{}, Errors: map[string]string{}})
}

// showSequence shows a sequence: its state and the actions it allows (with what keeps a draft
// from activating), its steps with each one's funnel, its enrollments by state and exit reason,
// the latest enrollments, and the forms that enroll a contact by hand and send a test event (f,
// as typed, with its errors).
func (c *Console) showSequence(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form) error {
	seq, err := rowOf(c, r, v, drip.GetSequence)
	if err != nil {
		return err
	}
	ctx, account := r.Context(), v.sess.AccountID
	rep, err := drip.LoadReport(ctx, c.read, account, seq.ID)
	if err != nil {
		return err
	}
	names, err := c.templateNames(ctx, account)
	if err != nil {
		return err
	}
	steps := make([]stepView, len(seq.Steps))
	for i, st := range seq.Steps {
		steps[i] = stepView{N: i + 1, Step: st, Template: cmp.Or(names[st.TemplateID], fmt.Sprintf("template #%d", st.TemplateID))}
		for j := range rep.Steps {
			if rep.Steps[j].Step == i {
				sr := &rep.Steps[j]
				steps[i].Report = sr
				for _, stage := range []funnelBar{{"Sent", sr.Sent, 0}, {"Delivered", sr.Delivered, 0}, {"Read", sr.Read, 0}, {"Replied", sr.Replied, 0}} {
					stage.Pct = progress(stage.N, rep.Enrolled)
					steps[i].Bars = append(steps[i].Bars, stage)
				}
			}
		}
	}
	enrollments, err := c.q.ListEnrollments(ctx, queries.ListEnrollmentsParams{AccountID: account, SequenceID: seq.ID, Lim: enrollmentsShown})
	if err != nil {
		return err
	}
	var problem string // what keeps a draft from activating
	if seq.Status == queries.SequenceStatusDraft {
		err := drip.Ready(ctx, c.q, account, seq)
		if e, ok := invalid.As(err); ok {
			problem, err = e.Error(), nil
		}
		if err != nil {
			return err
		}
	}
	c.render(w, r, v, status, "sequence", seq.Name, map[string]any{"Seq": seq, "Report": rep, "Steps": steps,
		"Enrollments": enrollments, "Done": r.URL.Query().Get("done"), "Problem": problem, "Form": f})
	return nil
}

// enrollContact puts a contact, found by phone number, into the sequence by hand.
func (c *Console) enrollContact(w http.ResponseWriter, r *http.Request, v *visit) error {
	seq, err := rowOf(c, r, v, drip.GetSequence)
	if err != nil {
		return err
	}
	f := newForm(r)
	num, err := phone.Normalize(f.Get("phone"), "")
	if err != nil {
		f.Errors["phone"] = "give the number in international form, such as +14155550100"
		return c.showSequence(w, r, v, http.StatusBadRequest, f)
	}
	contact, err := c.q.GetContactByPhone(r.Context(), queries.GetContactByPhoneParams{AccountID: v.sess.AccountID, Phone: num.E164})
	if errors.Is(err, pgx.ErrNoRows) {
		f.Errors["phone"] = "no contact has this number; add or import them first"
		return c.showSequence(w, r, v, http.StatusBadRequest, f)
	} else if err != nil {
		return err
	}
	e, err := c.drips.EnrollByHand(r.Context(), v.sess.Actor(v.ip), seq.ID, contact.ID, nil)
	if in, ok := invalid.As(err); ok && in.Code != invalid.CodeNotFound {
		f.Errors["phone"] = in.Message
		return c.showSequence(w, r, v, http.StatusConflict, f)
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/enrollments/%d", e.ID), http.StatusSeeOther)
	return nil
}

// sendEvent records the sequence's trigger event for a contact by number, with properties typed
// as JSON, as an integration would send it: the way to try a sequence before a store sends real
// ones. A number not yet a contact becomes one, as with the API's events.
func (c *Console) sendEvent(w http.ResponseWriter, r *http.Request, v *visit) error {
	seq, err := rowOf(c, r, v, drip.GetSequence)
	if err != nil {
		return err
	}
	if seq.Trigger == nil {
		return errPage(http.StatusConflict, "This sequence starts on no event: enroll contacts by hand instead.")
	}
	f := newForm(r)
	row, err := (contacts.Input{Phone: f.Get("event_phone")}).Normalize("")
	if err != nil {
		f.Errors["event_phone"] = "give the number in international form, such as +14155550100"
	}
	var props map[string]any
	if text := strings.TrimSpace(f.Get("properties")); text != "" {
		if json.Unmarshal([]byte(text), &props) != nil {
			f.Errors["properties"] = `write the properties as a JSON object, such as {"total": 80, "item": "boots"}`
		} else if err := drip.CheckProperties(props); err != nil {
			f.Errors["properties"] = err.Error()
		}
	}
	if !f.ok() {
		return c.showSequence(w, r, v, http.StatusBadRequest, f)
	}
	by := v.sess.Actor(v.ip)
	author := contacts.AuthorOf(by)
	author.Fill = true // the number alone: create the contact or leave it as it is
	if _, err := drip.Record(r.Context(), c.db, by, drip.Incoming{Contact: row, Name: seq.Trigger.Event, Properties: props,
		Source: "console", Author: author}); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/sequences/%d?done=%s", seq.ID, url.QueryEscape(seq.Trigger.Event+" sent")), http.StatusSeeOther)
	return nil
}

// journeyPage shows a contact's way through a sequence: each step with its message's times.
func (c *Console) journeyPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx, account := r.Context(), v.sess.AccountID
	e, err := drip.Journey(ctx, c.q, account, id)
	if err != nil {
		return err
	}
	seq, err := drip.GetSequence(ctx, c.q, account, e.SequenceID)
	if err != nil {
		return err
	}
	contact, err := c.q.GetContact(ctx, queries.GetContactParams{AccountID: account, ID: e.ContactID})
	if err != nil {
		return err
	}
	names, err := c.templateNames(ctx, account)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "journey", "Journey", map[string]any{"E": e, "Seq": seq, "Contact": contact, "Names": names,
		"Exited": r.URL.Query().Get("exited") != ""})
	return nil
}

// exitEnrollment takes a contact out of its sequence by hand.
func (c *Console) exitEnrollment(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := drip.ExitByHand(r.Context(), c.db, v.sess.Actor(v.ip), id); err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/enrollments/%d?exited=1", id), http.StatusSeeOther)
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
		if e, ok := invalid.As(err); ok && e.Code == invalid.Code { // a draft that is not complete yet
			err = errPage(http.StatusBadRequest, "This draft cannot be activated yet: "+e.Error()+". Edit it, then activate.")
		}
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/sequences/%d?done=%s", id, action), http.StatusSeeOther)
	return nil
}
