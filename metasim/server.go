package metasim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dripcast/dripcast/whatsapp"
)

// Handler serves the Cloud API endpoints and, under /_sim/, the control API.
//
//	POST /{version}/{phone-number-id}/messages   send (template or text)
//	GET  /{version}/{phone-number-id}            quality rating, throughput, messaging limit
//	GET  /{version}/{waba-id}/phone_numbers      the WABA's numbers
//	GET  /{version}/{waba-id}/message_templates  its templates, paged (limit, after)
//	GET  /_sim/counters                          what was received, summed up
//	GET  /_sim/records?since=N&to=PHONE          every send request from index N (to one recipient)
//	POST /_sim/reset                             forget records and counters
//	POST /_sim/numbers, /_sim/templates          register a number or a template
//	POST /_sim/tier                              {"portfolio","limit"}
//	POST /_sim/faults                            {"server_error","slow","timeout","slow_delay"}
//	POST /_sim/inbound                           a user writes: {"phone_number_id","from","text"|"button_payload","context_id"}
//	POST /_sim/user-preferences                  {"phone_number_id","wa_id","value":"stop"|"resume"}
//	POST /_sim/quality                           {"phone_number_id","event","rating","limit"}
//	POST /_sim/template-status                   {"phone_number_id","name","language","event"}
//	POST /_sim/template-quality                  {"phone_number_id","name","language","quality"}
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/{id}/messages", s.handleSend)
	mux.HandleFunc("POST /{version}/{id}/marketing_messages", s.handleSend)
	mux.HandleFunc("POST /{version}/{id}/media", s.handleUpload)
	mux.HandleFunc("GET /{version}/{id}", s.handlePhoneNumber)
	mux.HandleFunc("GET /{version}/{id}/phone_numbers", s.handleWABANumbers)
	mux.HandleFunc("GET /{version}/{id}/message_templates", s.handleTemplates)
	mux.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Counters()) })
	mux.HandleFunc("GET /_sim/records", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.Atoi(r.URL.Query().Get("since"))
		writeJSON(w, s.Records(since, r.URL.Query().Get("to")))
	})
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); writeJSON(w, ok) })
	mux.HandleFunc("POST /_sim/numbers", control(func(n Number) error { s.AddNumber(n); return nil }))
	mux.HandleFunc("POST /_sim/templates", control(func(t Template) error { s.AddTemplate(t); return nil }))
	mux.HandleFunc("POST /_sim/tier", control(func(t struct {
		Portfolio string `json:"portfolio"`
		Limit     int    `json:"limit"`
	}) error {
		s.SetTier(t.Portfolio, t.Limit)
		return nil
	}))
	mux.HandleFunc("POST /_sim/faults", control(func(f Faults) error { s.SetFaults(f); return nil }))
	mux.HandleFunc("POST /_sim/inbound", control(s.Inbound))
	mux.HandleFunc("POST /_sim/user-preferences", control(s.UserPreference))
	mux.HandleFunc("POST /_sim/quality", control(s.Quality))
	mux.HandleFunc("POST /_sim/template-status", control(s.TemplateStatus))
	mux.HandleFunc("POST /_sim/template-quality", control(s.TemplateQuality))
	return mux
}

var ok = map[string]bool{"ok": true}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// control decodes a JSON body into T and runs fn; an error answers 400.
func control[T any](fn func(T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var v T
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&v); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := fn(v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, ok)
	}
}

// Graph answers for reads, as Meta gives them: a token Meta does not know at all is a 401 (190);
// a valid token that may not see the object gets the same 400 (100) as an object that does not
// exist, so a caller learns nothing about numbers that are not theirs.
var errBadToken = metaError{http.StatusUnauthorized, codeToken, "Invalid OAuth access token - Cannot parse access token"}

func errNoObject(id string) metaError {
	return metaError{http.StatusBadRequest, codeInvalidParam, fmt.Sprintf("(#100) Unsupported get request. Object with ID '%s' "+
		"does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)}
}

// tokenKnown: some registered number accepts this token (a token is one WABA's, in metasim).
func (s *Sim) tokenKnown(token string) bool {
	for _, n := range s.numbers {
		if token != "" && n.Token == token {
			return true
		}
	}
	return false
}

func (s *Sim) handlePhoneNumber(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, token := r.PathValue("id"), bearer(r)
	n, found := s.numbers[id]
	switch {
	case !s.tokenKnown(token):
		writeMetaError(w, errBadToken)
	case !found || n.Token != token:
		writeMetaError(w, errNoObject(id))
	default:
		writeJSON(w, s.phoneNumberView(n))
	}
}

func (s *Sim) phoneNumberView(n *number) map[string]any {
	level := "STANDARD"
	if n.MPS >= 1000 {
		level = "HIGH"
	}
	return map[string]any{"id": n.PhoneNumberID, "display_phone_number": n.DisplayNumber, "verified_name": "metasim",
		"quality_rating": n.Quality, "throughput": map[string]string{"level": level},
		"whatsapp_business_manager_messaging_limit": tierName(s.portfolios[n.Portfolio].limit)}
}

// wabaNumbers are the numbers of the path's WABA that the request's token may see; with none, it
// has answered Meta's error (s.mu held).
func (s *Sim) wabaNumbers(w http.ResponseWriter, r *http.Request) []*number {
	waba, token := r.PathValue("id"), bearer(r)
	if !s.tokenKnown(token) {
		writeMetaError(w, errBadToken)
		return nil
	}
	var out []*number
	for _, n := range s.numbers {
		if n.WABAID == waba && n.Token == token {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		writeMetaError(w, errNoObject(waba))
	}
	return out
}

// handleWABANumbers lists a WABA's numbers (GET /{waba-id}/phone_numbers) for a token of that WABA.
func (s *Sim) handleWABANumbers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	numbers := s.wabaNumbers(w, r)
	if numbers == nil {
		return
	}
	data := []map[string]any{}
	for _, n := range numbers {
		data = append(data, s.phoneNumberView(n))
	}
	writeJSON(w, map[string]any{"data": data})
}

// handleTemplates lists the templates (every WABA shares them here) to a token of the WABA, in
// pages as Meta does: limit (25 by default, at most 100) and the after cursor of the last page.
func (s *Sim) handleTemplates(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wabaNumbers(w, r) == nil {
		return
	}
	limit, err := strconv.Atoi(cmp.Or(r.URL.Query().Get("limit"), "25"))
	if err != nil || limit < 1 || limit > 100 {
		writeMetaError(w, metaError{http.StatusBadRequest, codeInvalidParam, "(#100) Param limit must be a number from 1 to 100"})
		return
	}
	keys := slices.Sorted(maps.Keys(s.templates))
	start := 0
	if after := r.URL.Query().Get("after"); after != "" {
		if start, err = strconv.Atoi(after); err != nil || start < 0 || start > len(keys) {
			writeMetaError(w, metaError{http.StatusBadRequest, codeInvalidParam, "(#100) Invalid after cursor"})
			return
		}
	}
	end := min(start+limit, len(keys))
	data := make([]whatsapp.MessageTemplate, 0, end-start)
	for i, k := range keys[start:end] {
		data = append(data, s.templates[k].listed(start+i))
	}
	out := map[string]any{"data": data}
	if end < len(keys) {
		out["paging"] = map[string]any{"cursors": map[string]string{"before": strconv.Itoa(start), "after": strconv.Itoa(end)},
			"next": fmt.Sprintf("http://%s%s?limit=%d&after=%d", r.Host, r.URL.Path, limit, end)}
	}
	writeJSON(w, out)
}

// listed is the template as Meta lists it; i makes its id.
func (t *Template) listed(i int) whatsapp.MessageTemplate {
	comps := t.Components
	if len(comps) == 0 {
		comps = t.synthesized()
	}
	format := "POSITIONAL"
	if t.namedParams() != nil {
		format = "NAMED"
	}
	return whatsapp.MessageTemplate{ID: strconv.Itoa(900000 + i), Name: t.Name, Language: t.Language, Status: t.Status,
		Category: strings.ToUpper(t.Category), ParameterFormat: format,
		QualityScore: &whatsapp.QualityScore{Score: cmp.Or(t.Quality, "UNKNOWN")}, Components: comps}
}

// synthesized are components with Params' placeholders: a text header, a body, URL buttons.
func (t *Template) synthesized() []whatsapp.TemplateComponent {
	placeholders := func(text string, n int) string {
		for i := 1; i <= n; i++ {
			text += fmt.Sprintf(" {{%d}}", i)
		}
		return text
	}
	var comps []whatsapp.TemplateComponent
	if n := t.Params["header"]; n > 0 {
		if f := t.headerFormat(); f != "TEXT" {
			comps = append(comps, whatsapp.TemplateComponent{Type: "HEADER", Format: f})
		} else {
			comps = append(comps, whatsapp.TemplateComponent{Type: "HEADER", Format: "TEXT", Text: placeholders("Hello", n)})
		}
	}
	comps = append(comps, whatsapp.TemplateComponent{Type: "BODY", Text: placeholders("Message", t.Params["body"])})
	last := -1 // the buttons up to the last with a parameter: URL ones with it, quick replies between
	for k := range t.Params {
		if i, err := strconv.Atoi(strings.TrimPrefix(k, "button.")); err == nil && strings.HasPrefix(k, "button.") {
			last = max(last, i)
		}
	}
	var buttons []whatsapp.TemplateButton
	for i := 0; i <= last; i++ {
		if t.Params["button."+strconv.Itoa(i)] > 0 {
			buttons = append(buttons, whatsapp.TemplateButton{Type: "URL", Text: "Open", URL: "https://example.com/{{1}}"})
		} else {
			buttons = append(buttons, whatsapp.TemplateButton{Type: "QUICK_REPLY", Text: "Not now"})
		}
	}
	if buttons != nil {
		comps = append(comps, whatsapp.TemplateComponent{Type: "BUTTONS", Buttons: buttons})
	}
	return comps
}

func tierName(limit int) string {
	switch limit {
	case 0:
		return "TIER_UNLIMITED"
	case 250:
		return "TIER_250"
	case 2000:
		return "TIER_2K"
	case 10000:
		return "TIER_10K"
	case 100000:
		return "TIER_100K"
	}
	return "TIER_" + strconv.Itoa(limit)
}

// number finds a registered number for a control call.
func (s *Sim) number(id string) (*number, error) {
	n, found := s.numbers[id]
	if !found {
		return nil, fmt.Errorf("no number %q is registered", id)
	}
	return n, nil
}

// Inbound is a user writing to a business number.
type Inbound struct {
	PhoneNumberID string `json:"phone_number_id"`
	From          string `json:"from"`
	Text          string `json:"text"`
	ButtonPayload string `json:"button_payload"`
	ContextID     string `json:"context_id"` // the wamid replied to
}

// Inbound opens the user's 24 h service window and posts the message to the webhook.
func (s *Sim) Inbound(in Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.number(in.PhoneNumberID)
	if err != nil {
		return err
	}
	from := digits(in.From)
	now := s.now()
	s.inboundAt[from] = now
	msg := map[string]any{"from": from, "id": s.newWAMID(), "timestamp": strconv.FormatInt(now.Unix(), 10)}
	if in.ButtonPayload != "" {
		msg["type"] = "button"
		msg["button"] = map[string]string{"payload": in.ButtonPayload, "text": in.ButtonPayload}
	} else {
		msg["type"] = "text"
		msg["text"] = map[string]string{"body": in.Text}
	}
	if in.ContextID != "" {
		msg["context"] = map[string]string{"from": digits(n.DisplayNumber), "id": in.ContextID}
	}
	s.hooks.push(&hook{due: time.Now(), number: &n.Number, field: whatsapp.FieldMessages, value: map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          whatsapp.Metadata{DisplayPhoneNumber: digits(n.DisplayNumber), PhoneNumberID: n.PhoneNumberID},
		"contacts":          []map[string]any{{"profile": map[string]string{"name": "metasim user"}, "wa_id": from}},
		"messages":          []any{msg},
	}})
	return nil
}

// Preference is a user stopping or resuming marketing messages.
type Preference struct {
	PhoneNumberID string `json:"phone_number_id"`
	WaID          string `json:"wa_id"`
	Value         string `json:"value"` // stop, resume
}

// UserPreference records the choice (a stopped user's marketing sends fail with 131050) and
// posts a user_preferences webhook.
func (s *Sim) UserPreference(p Preference) error {
	if p.Value != "stop" && p.Value != "resume" {
		return fmt.Errorf("value must be stop or resume")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.number(p.PhoneNumberID)
	if err != nil {
		return err
	}
	id := digits(p.WaID)
	s.stopped[id] = p.Value == "stop"
	s.hooks.push(&hook{due: time.Now(), number: &n.Number, field: whatsapp.FieldUserPreferences, value: whatsapp.UserPreferencesValue{
		MessagingProduct: "whatsapp", Metadata: whatsapp.Metadata{DisplayPhoneNumber: digits(n.DisplayNumber), PhoneNumberID: n.PhoneNumberID},
		UserPreferences: []whatsapp.UserPreference{{WaID: id, Detail: "User requested to " + p.Value + " marketing messages",
			Category: "marketing_messages", Value: p.Value, Timestamp: s.now().Unix()}},
	}})
	return nil
}

// QualityChange changes a number's quality rating or its portfolio's tier.
type QualityChange struct {
	PhoneNumberID string `json:"phone_number_id"`
	Event         string `json:"event"`  // FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE, THROUGHPUT_UPGRADE
	Rating        string `json:"rating"` // GREEN, YELLOW, RED: the rating GET /{id} reports from now on
	Limit         int    `json:"limit"`  // the portfolio's new tier, 0 to leave it
}

// Quality applies the change and posts a phone_number_quality_update webhook.
func (s *Sim) Quality(q QualityChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.number(q.PhoneNumberID)
	if err != nil {
		return err
	}
	if q.Rating != "" {
		n.Quality = q.Rating
	}
	p := s.portfolios[n.Portfolio]
	old := tierName(p.limit)
	if q.Limit > 0 {
		p.limit = q.Limit
	}
	s.hooks.push(&hook{due: time.Now(), number: &n.Number, field: whatsapp.FieldQuality, value: whatsapp.QualityUpdate{
		DisplayPhoneNumber: digits(n.DisplayNumber), Event: q.Event, OldLimit: old, MaxDailyConversationsPerBusiness: tierName(p.limit),
	}})
	return nil
}

// numberAndTemplate finds the number whose WABA Meta tells and the template it tells about; the
// caller holds s.mu.
func (s *Sim) numberAndTemplate(phoneNumberID, name, language string) (*number, *Template, error) {
	n, err := s.number(phoneNumberID)
	if err != nil {
		return nil, nil, err
	}
	t, found := s.templates[name+"/"+language]
	if !found {
		return nil, nil, fmt.Errorf("no template %s/%s is registered", name, language)
	}
	return n, t, nil
}

// TemplateChange is Meta changing a template's status.
type TemplateChange struct {
	PhoneNumberID string `json:"phone_number_id"` // whose WABA is told
	Name          string `json:"name"`
	Language      string `json:"language"`
	Event         string `json:"event"` // APPROVED, PAUSED, DISABLED, FLAGGED, REINSTATED, …
}

// TemplateStatus follows a status event of Meta's and posts its message_template_status_update
// webhook: PAUSED and DISABLED refuse sends; APPROVED and REINSTATED make the template sendable;
// FLAGGED leaves it sending and names the day Meta would disable it (a week on).
func (s *Sim) TemplateStatus(c TemplateChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, t, err := s.numberAndTemplate(c.PhoneNumberID, c.Name, c.Language)
	if err != nil {
		return err
	}
	v := whatsapp.TemplateStatusUpdate{Event: c.Event, MessageTemplateName: t.Name, MessageTemplateLanguage: t.Language, Reason: "NONE",
		MessageTemplateCategory: t.Category}
	switch c.Event {
	case "APPROVED", "REINSTATED":
		t.Status = "APPROVED"
	case "PAUSED", "DISABLED", "REJECTED", "PENDING":
		t.Status = c.Event
	case "FLAGGED":
		v.DisableInfo = &whatsapp.DisableInfo{DisableDate: whatsapp.UnixTime(time.Now().Add(7 * 24 * time.Hour).Unix())}
	default:
		return fmt.Errorf("template event %q: metasim knows APPROVED, PAUSED, DISABLED, REJECTED, PENDING, FLAGGED and REINSTATED", c.Event)
	}
	if c.Event == "DISABLED" {
		v.DisableInfo = &whatsapp.DisableInfo{DisableDate: whatsapp.UnixTime(time.Now().Unix())}
	}
	s.hooks.push(&hook{due: time.Now(), number: &n.Number, field: whatsapp.FieldTemplateStatus, value: v})
	return nil
}

// TemplateQualityChange is Meta re-rating a template.
type TemplateQualityChange struct {
	PhoneNumberID string `json:"phone_number_id"` // whose WABA is told
	Name          string `json:"name"`
	Language      string `json:"language"`
	Quality       string `json:"quality"` // GREEN, YELLOW, RED, UNKNOWN
}

// TemplateQuality sets the template's quality score and posts a message_template_quality_update
// webhook with the previous and the new score.
func (s *Sim) TemplateQuality(c TemplateQualityChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, t, err := s.numberAndTemplate(c.PhoneNumberID, c.Name, c.Language)
	if err != nil {
		return err
	}
	switch c.Quality {
	case "GREEN", "YELLOW", "RED", "UNKNOWN":
	default:
		return fmt.Errorf("quality %q: Meta's scores are GREEN, YELLOW, RED and UNKNOWN", c.Quality)
	}
	previous := cmp.Or(t.Quality, "UNKNOWN")
	t.Quality = c.Quality
	s.hooks.push(&hook{due: time.Now(), number: &n.Number, field: whatsapp.FieldTemplateQuality, value: whatsapp.TemplateQualityUpdate{
		PreviousQualityScore: previous, NewQualityScore: c.Quality, MessageTemplateName: t.Name, MessageTemplateLanguage: t.Language,
	}})
	return nil
}
