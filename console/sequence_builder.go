package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/drip"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/segment"
)

// The sequence builder: the definition the API takes, as one form. Steps are s.0, s.1 …; a step's
// condition is a rule tree at root c0, c1 … (the segment builder's), the start condition one at
// "start", trigger filters tf.0, tf.1 …. Buttons named act add, move or remove a step or a filter,
// or change a tree, and the page comes back changed. "Save draft" keeps a draft even when it is
// incomplete; only a complete one activates; saving an active sequence makes a new version.

// windowForm is a send window as typed: days ticked, start and end times.
type windowForm struct {
	On         bool
	Days       []string
	Start, End string
}

// Has says whether day is ticked.
func (w windowForm) Has(day string) bool { return slices.Contains(w.Days, day) }

// filterRow is one trigger filter: a property, an operator and a value as typed.
type filterRow struct{ Property, Op, Value string }

// stepForm is one step as typed.
type stepForm struct {
	Template     int64
	Amount, Unit string
	From         string // previous or enrollment
	Params       string // the step's parameter mapping as JSON, kept as it is across round trips
	CondOn       bool
	Cond         ruleNode
	Window       windowForm
}

// seqForm is the whole builder as typed.
type seqForm struct {
	Name                         string
	Channel                      int64
	ByEvent                      bool // false: only the API and the console enroll
	Event                        string
	Filters                      []filterRow
	StartOn                      bool
	Start                        ruleNode
	OnReply, OnOptOut            bool
	SuccessEvents, FailureEvents string
	Again                        bool // re-entry after a cooling period, else run once
	CoolAmount, CoolUnit         string
	RequireDelivered             bool
	TimeZone                     string
	Window                       windowForm
	Steps                        []stepForm
}

var (
	weekdays    = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	filterOps   = []string{"eq", "neq", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists"}
	delayUnits  = []string{"minutes", "hours", "days"}
	knownEvents = []string{"contact.created", "contact.updated", "tag.added", "order.placed", "cart.abandoned"}
)

// emptyTree is a rule tree at root with one condition to fill in.
func emptyTree(root string) ruleNode {
	n := ruleNode{Kind: "all", Children: []ruleNode{{Kind: "cond", Field: "tags", Op: "contains"}}}
	n.renumber(root)
	return n
}

func newStep(i int) stepForm {
	s := stepForm{Amount: "1", Unit: "days", From: "previous", Cond: emptyTree(fmt.Sprintf("c%d", i))}
	if i == 0 {
		s.Amount, s.Unit = "0", "minutes"
	}
	return s
}

// formOf shows a stored sequence in the builder.
func formOf(s drip.SequenceView) seqForm {
	d := s.Definition
	f := seqForm{Name: s.Name, Channel: s.ChannelID, OnReply: d.Exit.OnReply, OnOptOut: d.Exit.OnOptOut,
		RequireDelivered: d.RequireDelivered, TimeZone: d.TimeZone, Window: windowOf(d.SendWindow), Start: emptyTree("start")}
	if d.Trigger != nil {
		f.ByEvent, f.Event = true, d.Trigger.Event
		for _, flt := range d.Trigger.Filter {
			f.Filters = append(f.Filters, filterRow{Property: flt.Property, Op: flt.Op, Value: valueText(flt.Value)})
		}
	}
	if d.StartCondition != nil {
		f.StartOn, f.Start = true, treeOf(*d.StartCondition, "start")
	}
	if d.Exit.Success != nil {
		f.SuccessEvents = strings.Join(d.Exit.Success.Events, ", ")
	}
	if d.Exit.Failure != nil {
		f.FailureEvents = strings.Join(d.Exit.Failure.Events, ", ")
	}
	f.CoolAmount, f.CoolUnit = "1", "days"
	if !d.Once() {
		f.Again = true
		if d.ReentryAfter != nil {
			f.CoolAmount, f.CoolUnit = strconv.Itoa(d.ReentryAfter.Amount), d.ReentryAfter.Unit
		}
	}
	for i, st := range d.Steps {
		sf := stepForm{Template: st.TemplateID, Amount: strconv.Itoa(st.Delay.Amount), Unit: st.Delay.Unit, From: st.DelayFrom,
			Window: windowOf(st.SendWindow), Cond: emptyTree(fmt.Sprintf("c%d", i))}
		if len(st.Parameters) > 0 {
			raw, _ := json.Marshal(st.Parameters)
			sf.Params = string(raw)
		}
		if st.Condition != nil {
			sf.CondOn, sf.Cond = true, treeOf(*st.Condition, fmt.Sprintf("c%d", i))
		}
		f.Steps = append(f.Steps, sf)
	}
	return f
}

func windowOf(w *policy.Window) windowForm {
	if w == nil {
		return windowForm{Start: "09:00", End: "21:00"}
	}
	return windowForm{On: true, Days: w.Days, Start: w.Start, End: w.End}
}

// valueText is a filter's JSON value as typed: a string without its quotes.
func valueText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// readSeqForm reads the builder's fields.
func readSeqForm(vals url.Values) seqForm {
	f := seqForm{Name: vals.Get("name"), ByEvent: vals.Get("starts") == "event", Event: strings.TrimSpace(vals.Get("trigger_event")),
		StartOn: vals.Has("start_on"), Start: readTree(vals, "start"), OnReply: vals.Has("exit_reply"), OnOptOut: vals.Has("exit_optout"),
		SuccessEvents: vals.Get("exit_success"), FailureEvents: vals.Get("exit_failure"), Again: vals.Get("reentry") == "again",
		CoolAmount: vals.Get("cool_amount"), CoolUnit: vals.Get("cool_unit"), RequireDelivered: vals.Has("require_delivered"),
		TimeZone: strings.TrimSpace(vals.Get("time_zone")), Window: readWindow(vals, "win")}
	f.Channel, _ = strconv.ParseInt(vals.Get("channel_id"), 10, 64)
	for i := 0; i < drip.MaxFilters && vals.Has(fmt.Sprintf("tf.%d.property", i)); i++ {
		p := fmt.Sprintf("tf.%d.", i)
		f.Filters = append(f.Filters, filterRow{Property: strings.TrimSpace(vals.Get(p + "property")), Op: vals.Get(p + "op"), Value: vals.Get(p + "value")})
	}
	for i := 0; i < drip.MaxSteps && vals.Has(fmt.Sprintf("s.%d.template", i)); i++ {
		p := fmt.Sprintf("s.%d.", i)
		st := stepForm{Amount: strings.TrimSpace(vals.Get(p + "amount")), Unit: vals.Get(p + "unit"), From: vals.Get(p + "from"),
			Params: vals.Get(p + "params"), CondOn: vals.Has(p + "cond_on"), Cond: readTree(vals, fmt.Sprintf("c%d", i)), Window: readWindow(vals, p+"win")}
		st.Template, _ = strconv.ParseInt(vals.Get(p+"template"), 10, 64)
		f.Steps = append(f.Steps, st)
	}
	return f
}

func readWindow(vals url.Values, prefix string) windowForm {
	return windowForm{On: vals.Has(prefix + ".on"), Days: vals[prefix+".days"], Start: vals.Get(prefix + ".start"), End: vals.Get(prefix + ".end")}
}

// act applies a builder button: step-add, step-up:i, step-down:i, step-remove:i, filter-add,
// filter-remove:i, or a tree's own (add-cond:start.0, remove:c2.1 …).
func (f *seqForm) act(action string) {
	verb, arg, _ := strings.Cut(action, ":")
	i, _ := strconv.Atoi(arg)
	switch {
	case verb == "step-add" && len(f.Steps) < drip.MaxSteps:
		f.Steps = append(f.Steps, newStep(len(f.Steps)))
	case verb == "step-up" && i > 0 && i < len(f.Steps):
		f.Steps[i-1], f.Steps[i] = f.Steps[i], f.Steps[i-1]
	case verb == "step-down" && i >= 0 && i+1 < len(f.Steps):
		f.Steps[i], f.Steps[i+1] = f.Steps[i+1], f.Steps[i]
	case verb == "step-remove" && i >= 0 && i < len(f.Steps):
		f.Steps = slices.Delete(f.Steps, i, i+1)
	case verb == "filter-add" && len(f.Filters) < drip.MaxFilters:
		f.Filters = append(f.Filters, filterRow{Op: "eq"})
	case verb == "filter-remove" && i >= 0 && i < len(f.Filters):
		f.Filters = slices.Delete(f.Filters, i, i+1)
	default:
		root, _, _ := strings.Cut(arg, ".")
		if root == "start" {
			f.Start.act(action)
		} else if n, err := strconv.Atoi(strings.TrimPrefix(root, "c")); err == nil && n >= 0 && n < len(f.Steps) {
			f.Steps[n].Cond.act(action)
		}
	}
	for i := range f.Steps {
		f.Steps[i].Cond.renumber(fmt.Sprintf("c%d", i))
	}
}

// input is the form as the API's sequence input; what does not parse is filed in errs by section.
func (f seqForm) input(errs map[string]string) drip.SequenceInput {
	in := drip.SequenceInput{Name: f.Name, ChannelID: f.Channel}
	d := &in.Definition
	if f.ByEvent {
		d.Trigger = &drip.Trigger{Event: f.Event}
		for _, row := range f.Filters {
			flt := drip.Filter{Property: row.Property, Op: row.Op}
			if row.Op != "exists" && row.Op != "not_exists" {
				flt.Value = typedValue(row.Value)
			}
			d.Trigger.Filter = append(d.Trigger.Filter, flt)
		}
	}
	if f.StartOn {
		d.StartCondition = ruleOf(f.Start, "start", errs)
	}
	d.Exit = drip.Exit{OnReply: f.OnReply, OnOptOut: f.OnOptOut, Success: stopOf(f.SuccessEvents), Failure: stopOf(f.FailureEvents)}
	once := !f.Again
	d.RunOnce = &once
	if f.Again {
		d.ReentryAfter = &drip.Delay{Amount: number(f.CoolAmount, "reentry", errs), Unit: f.CoolUnit}
	}
	d.RequireDelivered, d.TimeZone, d.SendWindow = f.RequireDelivered, f.TimeZone, f.Window.window()
	for i, st := range f.Steps {
		section := fmt.Sprintf("step.%d", i)
		step := drip.Step{TemplateID: st.Template, Delay: drip.Delay{Amount: number(st.Amount, section, errs), Unit: st.Unit},
			DelayFrom: st.From, SendWindow: st.Window.window()}
		if st.Params != "" && json.Unmarshal([]byte(st.Params), &step.Parameters) != nil {
			errs[section] = "its parameter mapping is not valid JSON"
		}
		if st.CondOn {
			step.Condition = ruleOf(st.Cond, section, errs)
		}
		d.Steps = append(d.Steps, step)
	}
	return in
}

// typedValue reads a filter value: a number or true/false as such, anything else as text.
func typedValue(s string) json.RawMessage {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil || s == "true" || s == "false" {
		return json.RawMessage(s)
	}
	raw, _ := json.Marshal(s)
	return raw
}

func ruleOf(tree ruleNode, section string, errs map[string]string) *segment.Rule {
	r, err := tree.rule()
	if err != nil {
		errs[section] = err.Error()
	}
	return &r
}

func stopOf(list string) *drip.Stop {
	var events []string
	for e := range strings.SplitSeq(list, ",") {
		if e = strings.TrimSpace(e); e != "" {
			events = append(events, e)
		}
	}
	if len(events) == 0 {
		return nil
	}
	return &drip.Stop{Events: events}
}

func number(s, section string, errs map[string]string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		errs[section] = "give the delay as a whole number"
	}
	return n
}

func (w windowForm) window() *policy.Window {
	if !w.On {
		return nil
	}
	return &policy.Window{Days: w.Days, Start: w.Start, End: w.End}
}

// sectionOf is the builder's section for an error's field ("steps[2].delay" is step.2).
func sectionOf(field string) string {
	for _, s := range []struct{ prefix, section string }{{"name", "name"}, {"trigger", "trigger"}, {"start_condition", "start"},
		{"exit", "exit"}, {"reentry_after", "reentry"}, {"run_once", "reentry"}, {"time_zone", "time_zone"},
		{"send_window", "window"}} {
		if strings.HasPrefix(field, s.prefix) {
			return s.section
		}
	}
	if rest, ok := strings.CutPrefix(field, "steps["); ok {
		if i, _, ok := strings.Cut(rest, "]"); ok {
			return "step." + i
		}
	}
	return "steps"
}

// seqBuilder is what the builder page shows.
type seqBuilder struct {
	ID                           int64 // 0 for a new sequence
	Status                       queries.SequenceStatus
	Version                      int32
	F                            seqForm
	Form                         *form
	Rules                        builder // the segment builder's choices, for the trees
	Channels                     []queries.Channel
	Templates                    []queries.Template // the approved ones
	Weekdays, Ops, Units, Events []string
}

// windowView is one window's fields for the page's window template.
type windowView struct {
	Prefix, Label string
	W             windowForm
	Days          []string
}

// Win pairs a window with its fields' prefix and its label.
func (b seqBuilder) Win(prefix string, w windowForm, label string) windowView {
	return windowView{Prefix: prefix, Label: label, W: w, Days: b.Weekdays}
}

// Approved says whether the template is among the approved ones a step may send.
func (b seqBuilder) Approved(id int64) bool {
	return slices.ContainsFunc(b.Templates, func(t queries.Template) bool { return t.ID == id })
}

// Draft says whether saving keeps the version (a new sequence or a draft).
func (b seqBuilder) Draft() bool { return b.ID == 0 || b.Status == queries.SequenceStatusDraft }

func (c *Console) showSequenceBuilder(w http.ResponseWriter, r *http.Request, v *visit, status int, b seqBuilder) error {
	choices, err := c.choices(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	b.Channels, b.Templates = choices.Channels, choices.Templates
	if b.Form == nil {
		b.Form = &form{Errors: map[string]string{}}
	}
	b.Rules = builder{Fields: builderFields, Ops: builderOps, CanEdit: role.Editors.Allows(v.sess.Role)}
	b.Weekdays, b.Ops, b.Units, b.Events = weekdays, filterOps, delayUnits, knownEvents
	title := "New sequence"
	if b.ID != 0 {
		title = "Edit " + b.F.Name
	}
	c.render(w, r, v, status, "sequence-edit", title, b)
	return nil
}

func (c *Console) newSequence(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := seqForm{OnReply: true, OnOptOut: true, TimeZone: "contact", CoolAmount: "30", CoolUnit: "days", Start: emptyTree("start"),
		Window: windowOf(nil), Steps: []stepForm{newStep(0)}}
	return c.showSequenceBuilder(w, r, v, http.StatusOK, seqBuilder{F: f})
}

func (c *Console) editSequence(w http.ResponseWriter, r *http.Request, v *visit) error {
	s, err := rowOf(c, r, v, drip.GetSequence)
	if err != nil {
		return err
	}
	return c.showSequenceBuilder(w, r, v, http.StatusOK, seqBuilder{ID: s.ID, Status: s.Status, Version: s.Version, F: formOf(s)})
}

func (c *Console) createSequence(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.saveSequence(w, r, v, seqBuilder{})
}

func (c *Console) updateSequence(w http.ResponseWriter, r *http.Request, v *visit) error {
	s, err := rowOf(c, r, v, drip.GetSequence)
	if err != nil {
		return err
	}
	return c.saveSequence(w, r, v, seqBuilder{ID: s.ID, Status: s.Status, Version: s.Version})
}

// saveSequence handles the builder's buttons: a change comes back as the page; "draft" saves even
// an incomplete draft, "activate" saves and activates, "save" saves an active sequence's new
// version.
func (c *Console) saveSequence(w http.ResponseWriter, r *http.Request, v *visit, b seqBuilder) error {
	f := newForm(r)
	b.F, b.Form = readSeqForm(r.PostForm), f
	if act := f.Get("act"); act != "" {
		b.F.act(act)
		return c.showSequenceBuilder(w, r, v, http.StatusOK, b)
	}
	in := b.F.input(f.Errors)
	if !f.ok() {
		return c.showSequenceBuilder(w, r, v, http.StatusBadRequest, b)
	}
	ctx, by, save := r.Context(), v.sess.Actor(v.ip), f.Get("save")
	in.Incomplete = save == "draft"
	var saved drip.SequenceView
	var err error
	if b.ID == 0 {
		saved, err = drip.CreateSequence(ctx, c.db, by, in)
	} else {
		saved, err = drip.UpdateSequence(ctx, c.db, by, b.ID, in)
	}
	done := "saved"
	if err == nil {
		b.ID, b.Status, b.Version = saved.ID, saved.Status, saved.Version
		if save == "activate" && saved.Status == queries.SequenceStatusDraft {
			_, err = drip.Move(ctx, c.db, by, saved.ID, drip.ActionActivate)
			done = drip.ActionActivate
		} else if saved.Version > 1 && saved.Status != queries.SequenceStatusDraft {
			done = fmt.Sprintf("saved as version %d", saved.Version)
		}
	}
	if err := placeSequenceError(f, err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showSequenceBuilder(w, r, v, http.StatusBadRequest, b)
	}
	http.Redirect(w, r, fmt.Sprintf("/sequences/%d?done=%s", b.ID, url.QueryEscape(done)), http.StatusSeeOther)
	return nil
}

// placeSequenceError files a domain error beside its section of the builder.
func placeSequenceError(f *form, err error) error {
	e, ok := invalid.As(err)
	switch {
	case !ok:
		return err
	case e.Code == invalid.CodeNotFound:
		f.Errors["channel_id"] = "choose the number it sends from"
	case e.Code == invalid.CodeConflict:
		f.Error = e.Message
	default:
		f.Errors[sectionOf(e.Field)] = e.Message
	}
	return nil
}
