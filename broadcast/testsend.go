package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/templates"
	"github.com/dripcast/dripcast/whatsapp"
)

// MaxTestRecipients bounds a test send.
const MaxTestRecipients = 10

// TestInput is a test send: a template with a broadcast's parameter mapping, to a few numbers.
type TestInput struct {
	ChannelID      int64             `json:"channel_id"`
	TemplateID     int64             `json:"template_id"`
	Parameters     templates.Mapping `json:"parameters"`
	Phones         []string          `json:"phones"`
	DefaultCountry string            `json:"default_country"`
	Event          map[string]any    `json:"event"`
}

// TestResult is one number's outcome.
type TestResult struct {
	Phone string `json:"phone"`
	WAMID string `json:"wamid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// Sender is what a test send needs to reach Meta: the client and the key that opens tokens.
type Sender struct {
	Meta    *whatsapp.Client
	Secrets *secrets.Box
}

// ErrNoMeta is a test send on a Dripcast with no Cloud API client.
var ErrNoMeta = errors.New("no Cloud API client is configured")

// TestSend sends a template at once to a few numbers before a broadcast is scheduled. A number
// that is a contact gets its own values; another gets the fallbacks. Test sends are previews: no
// message rows, no limits beyond their small count, an audit entry.
func (s Sender) TestSend(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in TestInput) ([]TestResult, error) {
	if len(in.Phones) == 0 || len(in.Phones) > MaxTestRecipients {
		return nil, invalid.Field("phones", "give 1 to %d phone numbers", MaxTestRecipients)
	}
	if s.Meta == nil {
		return nil, ErrNoMeta
	}
	q := queries.New(db)
	ch, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: by.AccountID, ID: in.ChannelID})
	if err != nil {
		return nil, missing(err, "channel")
	}
	tpl, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: by.AccountID, ID: in.TemplateID})
	if err != nil {
		return nil, missing(err, "template")
	}
	t, err := MergedTemplate(tpl, in.Parameters)
	if err != nil {
		return nil, err
	}
	token, err := s.Secrets.Open(ch.AccessTokenEnc, secrets.ChannelToken(ch.PhoneNumberID))
	if err != nil {
		return nil, errors.New("the channel's access token cannot be decrypted")
	}
	results := make([]TestResult, len(in.Phones))
	for i, raw := range in.Phones {
		results[i] = s.testSendOne(ctx, q, by.AccountID, ch, token, t, raw, in.DefaultCountry, in.Event)
	}
	err = audit.Record(ctx, q, by, "broadcast.test_send", "template", tpl.ID, nil, map[string]any{"channel_id": ch.ID, "recipients": len(results)})
	return results, err
}

func (s Sender) testSendOne(ctx context.Context, q *queries.Queries, accountID int64, ch queries.Channel, token string, t templates.Template,
	raw, country string, event map[string]any) TestResult {
	n, err := phone.Normalize(raw, country)
	if err != nil {
		return TestResult{Phone: raw, Error: err.Error()}
	}
	res := TestResult{Phone: n.E164}
	rcpt := templates.Recipient{Phone: n.E164, Country: n.Country}
	if c, err := q.GetContactByPhone(ctx, queries.GetContactByPhoneParams{AccountID: accountID, Phone: n.E164}); err == nil {
		rcpt = templates.Recipient{Name: c.Name, Email: c.Email, Phone: c.Phone, Country: c.Country}
		_ = json.Unmarshal(c.Attributes, &rcpt.Attributes)
	}
	out, err := t.Render(rcpt, event)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	sent, err := s.Meta.SendTemplate(ctx, token, ch.PhoneNumberID, n.E164[1:],
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
