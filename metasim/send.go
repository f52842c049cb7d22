package metasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Meta's error codes the simulator answers or posts.
const (
	codeInvalidParam     = 100
	codeToken            = 190
	codeThroughput       = 130429
	codeUndeliverable    = 131026
	codeSomethingWrong   = 131000
	codeReengagement     = 131047
	codeMarketingCap     = 131049
	codeStoppedMarketing = 131050
	codePairRate         = 131056
	codeParamCount       = 132000
	codeNoTemplate       = 132001
	codeTemplatePaused   = 132015
	codeTemplateDisabled = 132016
	// Meta's reference names no code for a business not onboarded to the Marketing Messages API;
	// metasim answers it with 134100, as it does a template the API does not take.
	codeMarketingNotAllowed = 134100
)

// sendRequest is the part of a send body the simulator reads.
type sendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Template         *struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
		Components []struct {
			Type       string            `json:"type"`
			SubType    string            `json:"sub_type"`
			Index      string            `json:"index"`
			Parameters []json.RawMessage `json:"parameters"`
		} `json:"components"`
	} `json:"template"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Callback string `json:"biz_opaque_callback_data"`
	// ProductPolicy (Marketing Messages API): STRICT refuses a send the API cannot take;
	// CLOUD_API_FALLBACK (Meta's default) sends it through Cloud API instead.
	ProductPolicy string `json:"product_policy"`
}

// bodyTexts reads the text of a template's body parameters, so tests can see what was filled.
func bodyTexts(req sendRequest) []string {
	var out []string
	for _, c := range req.Template.Components {
		if c.Type != "body" {
			continue
		}
		for _, raw := range c.Parameters {
			var p struct {
				Text string `json:"text"`
			}
			_ = json.Unmarshal(raw, &p)
			out = append(out, p.Text)
		}
	}
	return out
}

// metaError is an error answer in Meta's envelope.
type metaError struct {
	status int
	code   int
	msg    string
}

func (s *Sim) handleSend(w http.ResponseWriter, r *http.Request) {
	arrived := arrival(r) // what throughput counts: not when this handler runs (see Stamp)
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	fault := s.pickFault()
	if fault == "slow" {
		time.Sleep(s.slowDelay())
	}
	if e, ok := injected[fault]; ok {
		s.mu.Lock()
		s.record(Record{At: time.Now(), PhoneNumberID: id, Code: e.code, Fault: fault}, nil)
		s.mu.Unlock()
		writeMetaError(w, e)
		return
	}
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeMetaError(w, metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The request body is not valid JSON"})
		return
	}
	marketing := strings.HasSuffix(r.URL.Path, "/marketing_messages")
	rec, merr := s.accept(id, bearer(r), req, fault, arrived, marketing)
	if merr != nil {
		writeMetaError(w, *merr)
		return
	}
	if fault == "timeout" {
		// The message went out, but the answer never comes: the client sees a timeout.
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q,"message_status":"accepted"}]}`,
		req.To, rec.To, rec.WAMID)
}

func bearer(r *http.Request) string {
	t, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return t
}

// injected are the faults answered at once, without sending.
var injected = map[string]metaError{
	"server_error": {http.StatusInternalServerError, codeSomethingWrong, "Something went wrong"},
	"rate_limited": {http.StatusBadRequest, codeThroughput, "(#130429) Rate limit hit: Cloud API message throughput has been reached"},
}

func (s *Sim) pickFault() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	x := s.rng.Float64()
	for _, c := range []struct {
		name string
		rate float64
	}{{"server_error", f.ServerError}, {"rate_limited", f.RateLimited}, {"timeout", f.Timeout}, {"slow", f.Slow}} {
		if x < c.rate {
			return c.name
		}
		x -= c.rate
	}
	return ""
}

func (s *Sim) slowDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.SlowDelay > 0 {
		return s.faults.SlowDelay
	}
	return 2 * time.Second
}

// accept checks a send that arrived at wallNow as Meta would (through the Marketing Messages API
// when marketing) and, when it passes, records it and schedules its webhooks.
func (s *Sim) accept(id, token string, req sendRequest, fault string, wallNow time.Time, marketing bool) (Record, *metaError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec := Record{At: wallNow, PhoneNumberID: id, To: digits(req.To), Type: req.Type, Callback: req.Callback, Fault: fault}
	n, ok := s.numbers[id]
	fail := func(e metaError) (Record, *metaError) {
		rec.Code = e.code
		s.record(rec, n)
		return rec, &e
	}
	switch {
	case !ok:
		return fail(metaError{http.StatusBadRequest, codeInvalidParam, fmt.Sprintf("(#100) Unsupported post request. Object with ID '%s' does not exist", id)})
	case token == "" || token != n.Token:
		return fail(errBadToken)
	case req.MessagingProduct != "whatsapp":
		return fail(metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The parameter messaging_product is required"})
	case len(rec.To) < 7 || len(rec.To) > 15:
		return fail(metaError{http.StatusBadRequest, codeInvalidParam, "(#100) Invalid parameter: to"})
	}
	if marketing && req.Type != "template" {
		return fail(metaError{http.StatusBadRequest, codeMarketingNotAllowed, "(#134100) The Marketing Messages API sends template messages only"})
	}
	failCode := 0
	switch req.Type {
	case "template":
		t, e := s.checkTemplate(req)
		if e != nil {
			return fail(*e)
		}
		rec.Template, rec.Language, rec.Category = t.Name, t.Language, t.Category
		if marketing {
			if rec.MarketingMessages, e = marketingPath(n, t, req); e != nil {
				return fail(*e)
			}
		}
		rec.BodyParams = bodyTexts(req)
		media, code, e := s.checkHeader(id, t, req)
		if e != nil {
			return fail(*e)
		}
		rec.HeaderMedia, failCode = media, code
	case "text":
		if req.Text == nil || req.Text.Body == "" {
			return fail(metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The parameter text['body'] is required"})
		}
		if !s.inWindow(rec.To, now) {
			failCode = codeReengagement
		}
	default:
		return fail(metaError{http.StatusBadRequest, codeInvalidParam, "(#100) Unsupported message type " + req.Type})
	}
	throttledBefore := n.throttled
	if !n.admitThroughput(wallNow) {
		if n.throttled != throttledBefore {
			s.counters.number(id).SecondsThrottled++
		}
		return fail(metaError{http.StatusBadRequest, codeThroughput, "(#130429) Rate limit hit: Cloud API message throughput has been reached"})
	}
	pair := id + "/" + rec.To
	if last, ok := s.lastPair[pair]; ok && s.cfg.PairInterval > 0 && now.Sub(last) < s.cfg.PairInterval {
		return fail(metaError{http.StatusBadRequest, codePairRate, "(#131056) (Business Account, Consumer Account) pair rate limit hit"})
	}
	s.lastPair[pair] = now
	if failCode == 0 {
		failCode = s.deliveryFailure(n, rec, now)
	}
	if failCode == 0 && s.rng.Float64() < s.cfg.FailShare {
		failCode, rec.SentFirst = codeUndeliverable, true // sent, then failed to deliver
	}
	rec.Read = failCode == 0 && s.rng.Float64() < s.cfg.ReadShare
	rec.WAMID, rec.FailCode = s.newWAMID(), failCode
	s.record(rec, n)
	s.scheduleStatuses(n, rec, now)
	return rec, nil
}

// deliveryFailure decides, for a message Meta took, whether it will fail to deliver and why.
func (s *Sim) deliveryFailure(n *number, rec Record, now time.Time) int {
	switch {
	case s.notOnWA[rec.To]:
		return codeUndeliverable
	case s.cfg.FailFirst[rec.To] != 0 && !s.failedOnce[rec.To]:
		s.failedOnce[rec.To] = true
		return s.cfg.FailFirst[rec.To]
	case rec.Category == "marketing" && s.stopped[rec.To]:
		return codeStoppedMarketing
	case !s.portfolios[n.Portfolio].admitTier(rec.To, now, s.inWindow(rec.To, now)):
		s.counters.tierBreaches++
		return codeMarketingCap // Meta documents no code for a full tier; it does not deliver
	case rec.Category == "marketing" && !s.admitMarketing(rec.To, now):
		return codeMarketingCap
	}
	return 0
}

// marketingPath decides a send to POST /{id}/marketing_messages: the Marketing Messages API takes
// marketing templates of an onboarded business; a send it cannot take is refused under the STRICT
// product policy and goes through Cloud API under Meta's default (false).
func marketingPath(n *number, t *Template, req sendRequest) (bool, *metaError) {
	switch policy := req.ProductPolicy; {
	case policy != "" && policy != "STRICT" && policy != "CLOUD_API_FALLBACK":
		return false, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) Invalid parameter: product_policy"}
	case t.Category != "marketing":
		return false, &metaError{http.StatusBadRequest, codeMarketingNotAllowed, "(#134100) Only marketing templates can be sent through the Marketing Messages API"}
	case !n.MarketingMessages && policy == "STRICT":
		return false, &metaError{http.StatusBadRequest, codeMarketingNotAllowed,
			"(#134100) The business has not accepted the Marketing Messages API's terms of service"}
	}
	return n.MarketingMessages, nil
}

// checkTemplate finds the template and checks its parameter counts, component by component.
func (s *Sim) checkTemplate(req sendRequest) (*Template, *metaError) {
	if req.Template == nil || req.Template.Name == "" || req.Template.Language.Code == "" {
		return nil, &metaError{http.StatusBadRequest, codeInvalidParam, "(#100) The parameter template['name'] and template['language'] are required"}
	}
	t, ok := s.templates[req.Template.Name+"/"+req.Template.Language.Code]
	if !ok {
		return nil, &metaError{http.StatusNotFound, codeNoTemplate, fmt.Sprintf("(#132001) Template name does not exist in the translation: %s (%s)", req.Template.Name, req.Template.Language.Code)}
	}
	switch t.Status {
	case "PAUSED":
		return nil, &metaError{http.StatusBadRequest, codeTemplatePaused, "(#132015) Template is paused"}
	case "DISABLED":
		return nil, &metaError{http.StatusBadRequest, codeTemplateDisabled, "(#132016) Template is disabled"}
	}
	got := map[string]int{}
	for _, c := range req.Template.Components {
		key := c.Type
		if c.Type == "button" {
			key = "button." + c.Index
		}
		got[key] += len(c.Parameters)
	}
	for key, want := range t.Params {
		if got[key] != want {
			return nil, &metaError{http.StatusBadRequest, codeParamCount, fmt.Sprintf("(#132000) Number of parameters does not match the expected number of params: %s wants %d, got %d", key, want, got[key])}
		}
	}
	for key, n := range got {
		if _, ok := t.Params[key]; !ok && n > 0 && !strings.HasPrefix(key, "button.") {
			return nil, &metaError{http.StatusBadRequest, codeParamCount, fmt.Sprintf("(#132000) Number of parameters does not match the expected number of params: %s takes none", key)}
		}
	}
	if e := checkNamed(t, req); e != nil {
		return nil, e
	}
	if e := checkButtons(t, req); e != nil {
		return nil, e
	}
	return t, nil
}

func writeMetaError(w http.ResponseWriter, e metaError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": e.msg, "type": "OAuthException", "code": e.code,
		"error_data": map[string]string{"messaging_product": "whatsapp", "details": e.msg}, "fbtrace_id": "AmetasimTrace",
	}})
}
