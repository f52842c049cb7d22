package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/templates"
	"github.com/dripcast/dripcast/whatsapp"
)

// MaxTestRecipients bounds a test send.
const MaxTestRecipients = 10

type testSendInput struct {
	ChannelID      int64             `json:"channel_id"`
	TemplateID     int64             `json:"template_id"`
	Parameters     templates.Mapping `json:"parameters"`
	Phones         []string          `json:"phones"`
	DefaultCountry string            `json:"default_country"`
	Event          map[string]any    `json:"event"`
}

type testSendResult struct {
	Phone string `json:"phone"`
	WAMID string `json:"wamid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// testSend sends a template at once to a few numbers before a broadcast is scheduled. A number
// that is a contact gets its own values; another gets the fallbacks. Test sends are previews: no
// message rows, no limits beyond their small count, an audit entry.
func (s *Server) testSend(w http.ResponseWriter, r *http.Request) error {
	var in testSendInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if len(in.Phones) == 0 || len(in.Phones) > MaxTestRecipients {
		return errValidation("phones", "give 1 to %d phone numbers", MaxTestRecipients)
	}
	if s.opts.Meta == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "no Cloud API client is configured"}
	}
	ctx, p := r.Context(), caller(r.Context())
	ch, err := s.q.GetChannel(ctx, queries.GetChannelParams{AccountID: p.AccountID, ID: in.ChannelID})
	if err != nil {
		return notFoundAs(err, "channel")
	}
	tpl, err := s.q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: p.AccountID, ID: in.TemplateID})
	if err != nil {
		return notFoundAs(err, "template")
	}
	if err := checkOverrides(tpl, in.Parameters); err != nil {
		return err
	}
	v, err := viewTemplate(tpl)
	if err != nil {
		return err
	}
	for k, src := range in.Parameters {
		v.Parameters[k] = src
	}
	token, err := s.opts.Secrets.Open(ch.AccessTokenEnc, secrets.ChannelToken(ch.PhoneNumberID))
	if err != nil {
		return errors.New("the channel's access token cannot be decrypted")
	}
	results := make([]testSendResult, len(in.Phones))
	for i, raw := range in.Phones {
		results[i] = s.testSendOne(r, p.AccountID, ch, token, v.Template, raw, in.DefaultCountry, in.Event)
	}
	if err := s.audit(ctx, s.q, "broadcast.test_send", "template", tpl.ID, nil,
		map[string]any{"channel_id": ch.ID, "recipients": len(results)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}

func (s *Server) testSendOne(r *http.Request, accountID int64, ch queries.Channel, token string, t templates.Template,
	raw, country string, event map[string]any) testSendResult {
	n, err := phone.Normalize(raw, country)
	if err != nil {
		return testSendResult{Phone: raw, Error: err.Error()}
	}
	res := testSendResult{Phone: n.E164}
	rcpt := templates.Recipient{Phone: n.E164, Country: n.Country}
	if c, err := s.q.GetContactByPhone(r.Context(), queries.GetContactByPhoneParams{AccountID: accountID, Phone: n.E164}); err == nil {
		rcpt = templates.Recipient{Name: c.Name, Email: c.Email, Phone: c.Phone, Country: c.Country}
		_ = json.Unmarshal(c.Attributes, &rcpt.Attributes)
	}
	out, err := t.Render(rcpt, event)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	sent, err := s.opts.Meta.SendTemplate(r.Context(), token, ch.PhoneNumberID, n.E164[1:],
		whatsapp.NewTemplate(t.Name, t.Language, out.Components), "test-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err != nil {
		var api *whatsapp.APIError
		if errors.As(err, &api) {
			res.Code = api.Code
		}
		res.Error = fmt.Sprint(err)
		return res
	}
	res.WAMID = sent.WAMID
	return res
}
