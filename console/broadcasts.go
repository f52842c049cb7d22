package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/costs"
	"github.com/dripcast/dripcast/exports"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/templates"
	"github.com/dripcast/dripcast/whatsapp"
)

// listLimit bounds the choices a form lists (channels, templates, segments).
const listLimit = 200

func (c *Console) home(w http.ResponseWriter, r *http.Request, v *visit) error {
	ctx, account := r.Context(), v.sess.AccountID
	active, err := c.q.ActiveBroadcasts(ctx, account)
	if err != nil {
		return err
	}
	health, err := c.q.ChannelHealth(ctx, account)
	if err != nil {
		return err
	}
	day, err := c.q.DayTotals(ctx, account)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "home", "Home", map[string]any{"Active": active, "Channels": health, "Day": day})
	return nil
}

// progress is done as a share of of, from 0 to 100, for progress bars.
func progress[D, O int64 | int32](done D, of O) int {
	if of <= 0 {
		return 0
	}
	return int(min(100, int64(done)*100/int64(of)))
}

func (c *Console) broadcastList(w http.ResponseWriter, r *http.Request, v *visit) error {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	rows, err := c.q.RecentBroadcasts(r.Context(), queries.RecentBroadcastsParams{AccountID: v.sess.AccountID, Before: before, Lim: 51})
	if err != nil {
		return err
	}
	next := ""
	if len(rows) > 50 {
		rows, next = rows[:50], strconv.FormatInt(rows[49].ID, 10)
	}
	c.render(w, r, v, http.StatusOK, "broadcasts", "Broadcasts", map[string]any{"Rows": rows, "Next": next})
	return nil
}

// composer is the new-broadcast page's data, and the edit page's (ID set).
type composer struct {
	ID        int64 // the broadcast edited, 0 for a new one
	Form      *form
	Channels  []queries.Channel
	Templates []queries.Template
	Segments  []queries.Segment
	Template  *templatePart
	Review    *broadcast.Review
	Tests     []broadcast.TestResult
	Weekdays  []string
}

// templatePart is the chosen template: its preview and a parameter row per slot.
type templatePart struct {
	ID      int64
	Preview templates.Preview
	Params  []paramRow
}

type paramRow struct {
	Slot, Source, Value, Fallback, Error string
}

func (c *Console) choices(ctx context.Context, account int64) (*composer, error) {
	var err error
	p := &composer{Weekdays: weekdays}
	if p.Channels, err = c.q.ListChannels(ctx, queries.ListChannelsParams{AccountID: account, Lim: listLimit}); err != nil {
		return nil, err
	}
	all, err := c.q.ListTemplates(ctx, queries.ListTemplatesParams{AccountID: account, Lim: listLimit})
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.Status == "approved" {
			p.Templates = append(p.Templates, t)
		}
	}
	if p.Segments, err = c.q.ListSegments(ctx, queries.ListSegmentsParams{AccountID: account, Lim: listLimit}); err != nil {
		return nil, err
	}
	return p, nil
}

func (c *Console) newBroadcast(w http.ResponseWriter, r *http.Request, v *visit) error {
	p, err := c.choices(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	p.Form = &form{Values: url.Values{"when": {"now"}, "audience": {"segment"}}, Errors: map[string]string{}}
	if len(p.Templates) > 0 {
		if p.Template, err = c.templateRows(r.Context(), v.sess.AccountID, p.Templates[0].ID, nil, p.Form); err != nil {
			return err
		}
	}
	c.render(w, r, v, http.StatusOK, "compose", "New broadcast", p)
	return nil
}

// templateRows is a template's preview and its parameter rows: as the form typed them (values),
// or else as the template maps them.
func (c *Console) templateRows(ctx context.Context, account, id int64, values url.Values, f *form) (*templatePart, error) {
	row, err := c.q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: account, ID: id})
	if err != nil {
		return nil, nil // a template of no use here: the form says so beside its field
	}
	t, _ := broadcast.MergedTemplate(row, nil)
	return &templatePart{ID: row.ID, Preview: preview(t), Params: paramRows(t, values, f)}, nil
}

// paramRows are a template's slots with their sources: as the form sent them back, else as the
// template maps them, each with its error.
func paramRows(t templates.Template, values url.Values, f *form) []paramRow {
	var rows []paramRow
	for _, slot := range t.Slots() {
		pr := paramRow{Slot: slot}
		if values != nil && values.Has("src."+slot) {
			pr.Source, pr.Value, pr.Fallback = values.Get("src."+slot), values.Get("val."+slot), values.Get("fb."+slot)
		} else if src, ok := t.Parameters[slot]; ok {
			pr.Source, pr.Value, pr.Fallback = src.Source, src.Field+src.Key+src.Value, src.Fallback
		}
		for field, msg := range f.Errors {
			if field == "parameters."+slot || strings.HasPrefix(field, "parameters."+slot+".") {
				pr.Error = msg
			}
		}
		rows = append(rows, pr)
	}
	return rows
}

// preview is the template as a sample contact reads it; a parameter without a value shows its
// slot.
func preview(t templates.Template) templates.Preview {
	out, err := t.Render(templates.Recipient{Name: "Ana Silva", Email: "ana@example.com", Phone: "+14155550100", Country: "US"}, nil)
	if err == nil {
		return out.Preview
	}
	p := templates.Preview{Body: t.Components.Body.Text}
	if h := t.Components.Header; h != nil {
		p.Header = h.Text
	}
	if ft := t.Components.Footer; ft != nil {
		p.Footer = ft.Text
	}
	for _, b := range t.Components.Buttons {
		p.Buttons = append(p.Buttons, b.Text)
	}
	return p
}

// templatePart answers the template section for another choice of template (the page's script
// swaps it in).
func (c *Console) templatePart(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, _ := strconv.ParseInt(r.URL.Query().Get("template_id"), 10, 64)
	part, err := c.templateRows(r.Context(), v.sess.AccountID, id, nil, &form{Errors: map[string]string{}})
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "template-part", "", part)
	return nil
}

// audiencePart answers the live count of an audience as the form has it.
func (c *Console) audiencePart(w http.ResponseWriter, r *http.Request, v *visit) error {
	in, f := readBroadcast(r.URL.Query(), v)
	if strings.TrimSpace(in.Name) == "" {
		in.Name = "count" // the count does not depend on the name, which may come last
	}
	var review *broadcast.Review
	if f.ok() {
		checked, err := broadcast.Check(r.Context(), c.db, v.sess.AccountID, in, time.Now())
		if err = f.take(err); err != nil {
			return err
		}
		if f.ok() {
			rv, err := broadcast.ReviewOf(r.Context(), c.db, checked)
			if err = f.take(err); err != nil {
				return err
			}
			review = &rv
		}
	}
	c.render(w, r, v, http.StatusOK, "audience-part", "", map[string]any{"Review": review, "Form": f})
	return nil
}

// composeBroadcast handles the new-broadcast form's buttons: review, test send, save as a draft,
// schedule.
func (c *Console) composeBroadcast(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.compose(w, r, v, 0, "New broadcast")
}

// editBroadcast shows a draft or scheduled broadcast in the composer.
func (c *Console) editBroadcast(w http.ResponseWriter, r *http.Request, v *visit) error {
	b, err := c.editable(r, v)
	if err != nil {
		return err
	}
	p, err := c.choices(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	p.ID, p.Form = b.ID, &form{Values: broadcastForm(b, newFormat(v.sess).loc), Errors: map[string]string{}}
	if p.Template, err = c.templateRows(r.Context(), v.sess.AccountID, b.TemplateID, p.Form.Values, p.Form); err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "compose", "Edit "+b.Name, p)
	return nil
}

// updateBroadcast handles the edit page's buttons, as composeBroadcast does for a new one.
func (c *Console) updateBroadcast(w http.ResponseWriter, r *http.Request, v *visit) error {
	b, err := c.editable(r, v)
	if err != nil {
		return err
	}
	return c.compose(w, r, v, b.ID, "Edit "+b.Name)
}

// editable is the path's broadcast when it has not started: a draft or a scheduled one.
func (c *Console) editable(r *http.Request, v *visit) (queries.Broadcast, error) {
	b, err := c.broadcastOf(r, v)
	if err == nil && b.Status != queries.BroadcastStatusDraft && b.Status != queries.BroadcastStatusScheduled {
		err = errPage(http.StatusConflict, fmt.Sprintf("This broadcast is %s: only a draft or a scheduled one can be edited.", b.Status))
	}
	return b, err
}

// compose runs the composer's buttons for a new broadcast (id 0) or the one edited: review, test
// send, save as a draft, schedule.
func (c *Console) compose(w http.ResponseWriter, r *http.Request, v *visit, id int64, title string) error {
	ctx := r.Context()
	p, err := c.choices(ctx, v.sess.AccountID)
	if err != nil {
		return err
	}
	in, f := readBroadcast(r.PostForm, v)
	p.ID, p.Form = id, f
	status := http.StatusOK
	switch do := r.PostForm.Get("do"); do {
	case "test":
		err = c.testSend(r, v, in, p)
	case "schedule", "draft":
		if f.ok() {
			in.Draft = do == "draft"
			var b queries.Broadcast
			if id == 0 {
				b, _, err = broadcast.Create(ctx, c.db, v.sess.Actor(v.ip), in, time.Now())
			} else {
				b, _, err = broadcast.Update(ctx, c.db, v.sess.Actor(v.ip), id, in, time.Now())
			}
			if err == nil {
				http.Redirect(w, r, fmt.Sprintf("/broadcasts/%d", b.ID), http.StatusSeeOther)
				return nil
			}
		}
	default:
		if f.ok() {
			var checked broadcast.Checked
			if checked, err = broadcast.Check(ctx, c.db, v.sess.AccountID, in, time.Now()); err == nil {
				var rv broadcast.Review
				if rv, err = broadcast.ReviewOf(ctx, c.db, checked); err == nil {
					p.Review = &rv
				}
			}
		}
	}
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		status = http.StatusBadRequest
	}
	if p.Template, err = c.templateRows(ctx, v.sess.AccountID, in.TemplateID, r.PostForm, f); err != nil {
		return err
	}
	c.render(w, r, v, status, "compose", title, p)
	return nil
}

// broadcastForm is a stored broadcast as the composer's fields, times in the account's zone.
func broadcastForm(b queries.Broadcast, loc *time.Location) url.Values {
	vals := url.Values{"name": {b.Name}, "channel_id": {fmt.Sprint(b.ChannelID)}, "template_id": {fmt.Sprint(b.TemplateID)}, "when": {"now"}}
	if a, err := broadcast.ParseAudience(b.Audience); err == nil {
		switch {
		case a.SegmentID != 0:
			vals.Set("audience", "segment")
			vals.Set("segment_id", fmt.Sprint(a.SegmentID))
		case a.Tag != "":
			vals.Set("audience", "tag")
			vals.Set("tag", a.Tag)
		case len(a.Phones) > 0:
			vals.Set("audience", "phones")
			vals.Set("phones", strings.Join(a.Phones, "\n"))
		case len(a.ContactIDs) > 0:
			vals.Set("audience", "contacts")
			vals.Set("contact_ids", joinIDs(a.ContactIDs))
		}
	}
	var mapping templates.Mapping
	if json.Unmarshal(b.Parameters, &mapping) == nil {
		for slot, src := range mapping {
			vals.Set("src."+slot, src.Source)
			vals.Set("val."+slot, src.Field+src.Key+src.Value)
			vals.Set("fb."+slot, src.Fallback)
		}
	}
	switch {
	case b.LocalDate.Valid && b.LocalTime.Valid:
		vals.Set("when", "local")
		vals.Set("local_date", b.LocalDate.Time.Format(time.DateOnly))
		micros := b.LocalTime.Microseconds
		vals.Set("local_time", fmt.Sprintf("%02d:%02d", micros/3_600_000_000, micros/60_000_000%60))
	case b.SendAt != nil && b.SendAt.After(time.Now()):
		vals.Set("when", "at")
		vals.Set("send_at", b.SendAt.In(loc).Format("2006-01-02T15:04"))
	}
	if win := policy.DecodeWindow(b.SendWindow); win != nil {
		vals.Set("window_start", win.Start)
		vals.Set("window_end", win.End)
		vals["window_days"] = win.Days
	}
	if b.RateCap != nil {
		vals.Set("rate_cap", fmt.Sprint(*b.RateCap))
	}
	if p := policy.DecodeRetry(b.RetryPolicy); p != nil {
		vals.Set("retry_mode", p.Mode)
		if p.Days > 0 {
			vals.Set("retry_days", fmt.Sprint(p.Days))
		}
		hours := make([]string, len(p.Hours))
		for i, h := range p.Hours {
			hours[i] = strconv.Itoa(h)
		}
		vals.Set("retry_hours", strings.Join(hours, ", "))
	}
	return vals
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// testSend sends the composed template to the numbers of the test field.
func (c *Console) testSend(r *http.Request, v *visit, in broadcast.Input, p *composer) error {
	phones := splitList(r.PostForm.Get("test_phones"))
	results, err := c.sender.TestSend(r.Context(), c.db, v.sess.Actor(v.ip), broadcast.TestInput{ChannelID: in.ChannelID,
		TemplateID: in.TemplateID, Parameters: in.Parameters, Phones: phones, DefaultCountry: in.DefaultCountry})
	if errors.Is(err, broadcast.ErrNoMeta) {
		p.Form.Errors["phones"] = err.Error()
		return nil
	}
	p.Tests = results
	return err
}

// readBroadcast reads the form into the domain's input; what cannot even be read (a number that
// is not one) is filed beside its field.
func readBroadcast(vals url.Values, v *visit) (broadcast.Input, *form) {
	f := &form{Values: vals, Errors: map[string]string{}}
	in := broadcast.Input{Name: vals.Get("name"), DefaultCountry: strings.ToUpper(strings.TrimSpace(vals.Get("default_country")))}
	in.ChannelID = formID(f, "channel_id", "channel_id", "choose a channel")
	in.TemplateID = formID(f, "template_id", "template_id", "choose a template")
	in.Parameters = readMapping(vals)
	switch vals.Get("audience") {
	case "segment":
		in.Audience.SegmentID = formID(f, "segment_id", "audience", "choose a segment")
	case "tag":
		in.Audience.Tag = strings.TrimSpace(vals.Get("tag"))
	case "phones":
		in.Audience.Phones = splitList(vals.Get("phones"))
	case "contacts": // chosen through the API: kept as they are
		for _, part := range splitList(vals.Get("contact_ids")) {
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				f.Errors["audience"] = "the contacts chosen are not a list of ids"
				break
			}
			in.Audience.ContactIDs = append(in.Audience.ContactIDs, id)
		}
	}
	readTiming(f, vals, v, &in)
	return in, f
}

// readMapping reads the parameter rows of the "template" partial: for each slot, a source, a
// field, attribute or value, and a fallback.
func readMapping(vals url.Values) templates.Mapping {
	m := templates.Mapping{}
	for key := range vals {
		slot, ok := strings.CutPrefix(key, "src.")
		if !ok {
			continue
		}
		src := templates.Source{Source: vals.Get(key), Fallback: vals.Get("fb." + slot)}
		val := strings.TrimSpace(vals.Get("val." + slot))
		switch src.Source {
		case "contact":
			src.Field = val
		case "attribute", "event":
			src.Key = val
		default:
			src.Value = val
		}
		m[slot] = src
	}
	return m
}

// readTiming reads when and how fast: now, at a time in the account's zone, or at a local time
// in each contact's zone; a send window and a rate cap.
func readTiming(f *form, vals url.Values, v *visit, in *broadcast.Input) {
	switch vals.Get("when") {
	case "at":
		t, err := time.ParseInLocation("2006-01-02T15:04", vals.Get("send_at"), newFormat(v.sess).loc)
		if err != nil {
			f.Errors["send_at"] = "give a date and time"
		} else {
			in.SendAt = &t
		}
	case "local":
		in.LocalDate, in.LocalTime = vals.Get("local_date"), vals.Get("local_time")
	}
	if start, end := vals.Get("window_start"), vals.Get("window_end"); start != "" || end != "" {
		in.SendWindow = &policy.Window{Start: start, End: end, Days: vals["window_days"]}
	}
	if rc := strings.TrimSpace(vals.Get("rate_cap")); rc != "" {
		n, err := strconv.ParseInt(rc, 10, 32)
		if err != nil {
			f.Errors["rate_cap"] = "give a whole number of messages a second"
		} else {
			in.RateCap = new(int32(n))
		}
	}
	in.Retry = readRetry(f, vals)
}

// readRetry reads the retry policy: none (the account's default) when no mode is chosen; the
// days of a smart one, the hours of a manual one.
func readRetry(f *form, vals url.Values) *policy.Retry {
	mode := vals.Get("retry_mode")
	if mode == "" {
		return nil
	}
	p := &policy.Retry{Mode: mode}
	switch mode {
	case policy.RetrySmart:
		if d := strings.TrimSpace(vals.Get("retry_days")); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil {
				f.Errors["retry.days"] = "give a whole number of days"
			}
			p.Days = n
		}
	case policy.RetryManual:
		for _, h := range splitList(vals.Get("retry_hours")) {
			n, err := strconv.Atoi(h)
			if err != nil {
				f.Errors["retry.hours"] = "give whole numbers of hours, separated by commas"
			}
			p.Hours = append(p.Hours, n)
		}
	}
	return p
}

// formID reads the id chosen in input; a missing one is filed as missing beside errField.
func formID(f *form, input, errField, missing string) int64 {
	id, err := strconv.ParseInt(f.Values.Get(input), 10, 64)
	if err != nil || id <= 0 {
		f.Errors[errField] = missing
	}
	return id
}

// splitList reads numbers typed one per line or separated by commas.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == ';' || r == '\r' }) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// live is a running broadcast's state, redrawn every 2 seconds.
type live struct {
	B        queries.Broadcast
	Report   broadcast.Report
	Held     queries.BroadcastHeldRow
	Billing  costs.Billing
	Chart    chart
	Progress int
}

// broadcastOf is the broadcast of the path's {id}, if the account has it.
func (c *Console) broadcastOf(r *http.Request, v *visit) (queries.Broadcast, error) {
	id, err := pathID(r)
	if err != nil {
		return queries.Broadcast{}, err
	}
	return broadcast.Get(r.Context(), c.db, v.sess.AccountID, id)
}

// statusParam is the ?status= filter of recipients.
func statusParam(r *http.Request) (*queries.MessageStatus, error) {
	status, err := broadcast.StatusFilter(r.URL.Query().Get("status"))
	if err != nil {
		return nil, errPage(http.StatusBadRequest, err.Error())
	}
	return status, nil
}

func (c *Console) liveOf(r *http.Request, v *visit) (live, error) {
	b, err := c.broadcastOf(r, v)
	if err != nil {
		return live{}, err
	}
	ctx, account := r.Context(), v.sess.AccountID
	l := live{B: b}
	if l.Report, err = broadcast.LoadReport(ctx, c.read, b); err != nil {
		return l, err
	}
	if l.Held, err = c.q.BroadcastHeld(ctx, queries.BroadcastHeldParams{AccountID: account, BroadcastID: &b.ID}); err != nil {
		return l, err
	}
	if l.Billing, err = costs.OfBroadcast(ctx, c.q, account, b.ID); err != nil {
		return l, err
	}
	secs, err := c.q.SendsPerSecond(ctx, queries.SendsPerSecondParams{AccountID: account, BroadcastID: &b.ID})
	if err != nil {
		return l, err
	}
	ch, err := c.q.GetChannel(ctx, queries.GetChannelParams{AccountID: account, ID: b.ChannelID})
	if err != nil {
		return l, err
	}
	limit := ch.ThroughputMps
	if b.RateCap != nil && *b.RateCap < limit {
		limit = *b.RateCap
	}
	l.Chart = newChart(secs, limit, time.Now())
	l.Progress = int(l.Report.Progress * 100)
	return l, nil
}

func (c *Console) broadcastPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	l, err := c.liveOf(r, v)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "broadcast", l.B.Name, l)
	return nil
}

func (c *Console) livePart(w http.ResponseWriter, r *http.Request, v *visit) error {
	l, err := c.liveOf(r, v)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "live-part", "", l)
	return nil
}

// broadcastAction pauses, resumes, cancels or retries the failed of a broadcast.
func (c *Console) broadcastAction(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	by := v.sess.Actor(v.ip)
	switch action := r.PathValue("action"); action {
	case broadcast.ActionPause, broadcast.ActionResume, broadcast.ActionCancel:
		if _, err := broadcast.Act(r.Context(), c.db, by, id, action); err != nil {
			return err
		}
	case "retry-failed":
		b, err := broadcast.RetryFailed(r.Context(), c.db, by, id, time.Now())
		if err != nil {
			return err
		}
		id = b.ID
	default:
		return noPage()
	}
	if r.Header.Get("X-CSRF-Token") != "" { // the page's script: it redraws by itself
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	http.Redirect(w, r, fmt.Sprintf("/broadcasts/%d", id), http.StatusSeeOther)
	return nil
}

// failure is one row of the report's failures: a Meta error code (or a reason), its count, what
// it means and what to do.
type failure struct {
	Key string
	N   int64
	Why whatsapp.Explanation
}

// recipientsPage is the report's table: one page of recipients, filtered by status.
const recipientsPage = 50

func (c *Console) reportPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	l, err := c.liveOf(r, v)
	if err != nil {
		return err
	}
	status, err := statusParam(r)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	rows, err := c.q.ListRecipients(r.Context(), queries.ListRecipientsParams{AccountID: v.sess.AccountID, BroadcastID: &l.B.ID,
		Status: status, After: after, Lim: recipientsPage + 1})
	if err != nil {
		return err
	}
	next := ""
	if len(rows) > recipientsPage {
		rows, next = rows[:recipientsPage], strconv.FormatInt(rows[recipientsPage-1].ID, 10)
	}
	var failures []failure
	for key, n := range l.Report.Failed {
		code, _ := strconv.Atoi(key)
		failures = append(failures, failure{Key: key, N: n, Why: whatsapp.Explain(code)})
	}
	approval, err := exports.NeedsApproval(r.Context(), c.q, v.asker())
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "report", l.B.Name+" – report", map[string]any{"L": l, "Failures": failures, "Rows": rows,
		"Approval": approval, "Slices": broadcast.Slices, "Next": next, "Status": r.URL.Query().Get("status"), "Statuses": broadcast.MessageStatuses, "Bars": funnelBars(l.Report)})
	return nil
}

// recipientsCSV downloads the recipients (masked for an analyst), audited.
func (c *Console) recipientsCSV(w http.ResponseWriter, r *http.Request, v *visit) error {
	b, err := c.broadcastOf(r, v)
	if err != nil {
		return err
	}
	status, err := statusParam(r)
	if err != nil {
		return err
	}
	if err := exports.Direct(r.Context(), c.q, v.asker()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="broadcast-%d-recipients.csv"`, b.ID))
	return broadcast.ExportRecipients(r.Context(), c.q, c.read, v.sess.Actor(v.ip), w, b, status, newFormat(v.sess).masked)
}

// audienceOf describes a stored audience for people.
func audienceOf(raw []byte) string {
	var a broadcast.Audience
	if json.Unmarshal(raw, &a) != nil {
		return ""
	}
	switch {
	case a.SegmentID != 0:
		return fmt.Sprintf("segment #%d", a.SegmentID)
	case a.Tag != "":
		return "tag " + a.Tag
	case len(a.ContactIDs) > 0:
		return fmt.Sprintf("%d listed contacts", len(a.ContactIDs))
	}
	return fmt.Sprintf("%d listed numbers", len(a.Phones))
}

// retarget makes a draft broadcast to one slice of the report's funnel and opens it for editing.
func (c *Console) retarget(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	out, err := broadcast.Retarget(r.Context(), c.db, v.sess.Actor(v.ip), id, broadcast.RetargetInput{Slice: newForm(r).Get("slice")})
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/broadcasts/%d/edit", out.ID), http.StatusSeeOther)
	return nil
}
