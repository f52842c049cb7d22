package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/whatsapp"
)

// ErrUnauthorized means a delivery is refused whole: nothing in it is applied.
var ErrUnauthorized = errors.New("whatsapp webhook: the signature does not prove whose this delivery is")

// Limits that keep the cost of refusing a forged delivery small, whatever the number of tenants.
const (
	// MaxNames bounds the numbers and WABAs one delivery may name (Meta sends one WABA, a few
	// numbers).
	MaxNames = 100
	// MaxSecrets bounds the app secrets tried: one per Meta app whose channels the body names.
	MaxSecrets = 4
)

// Channel is a number a delivery may change.
type Channel = queries.ChannelsForWebhookRow

// Scope is what one verified delivery may change: the channels whose app secret signed it, by
// phone number id and by WABA. Everything else the body names is left alone.
type Scope struct {
	byNumber map[string]Channel
	byWABA   map[string][]Channel
}

func (s Scope) number(phoneNumberID, waba string) (Channel, bool) {
	ch, ok := s.byNumber[phoneNumberID]
	return ch, ok && ch.WabaID == waba
}

// names are the routing ids of a delivery: each entry's WABA, and the numbers its changes name.
type names struct {
	wabas   []string
	numbers []string
	pairs   [][2]string // (WABA, phone number id) of each change that names a number
}

func routing(n whatsapp.Notification) (names, error) {
	var out names
	for _, e := range n.Entry {
		out.wabas = append(out.wabas, e.ID)
		for _, c := range e.Changes {
			if c.Field != whatsapp.FieldMessages && c.Field != whatsapp.FieldUserPreferences {
				continue
			}
			var v struct {
				Metadata whatsapp.Metadata `json:"metadata"`
			}
			if json.Unmarshal(c.Value, &v) != nil || v.Metadata.PhoneNumberID == "" {
				continue // not understood: Apply skips it too
			}
			out.numbers = append(out.numbers, v.Metadata.PhoneNumberID)
			out.pairs = append(out.pairs, [2]string{e.ID, v.Metadata.PhoneNumberID})
		}
	}
	slices.Sort(out.wabas)
	slices.Sort(out.numbers)
	out.wabas, out.numbers = slices.Compact(out.wabas), slices.Compact(out.numbers)
	if len(out.wabas)+len(out.numbers) > MaxNames {
		return out, ErrUnauthorized
	}
	return out, nil
}

// Authorize finds whose a delivery is before anything in it is applied. It reads only the routing
// ids (each entry's WABA, each change's phone_number_id), loads the channels they name with their
// app secrets (open decrypts a channel's), and checks the signature against those secrets alone: at most
// MaxSecrets HMACs, one indexed query. The delivery is refused when no secret matches, when a
// number it names belongs to another secret or another WABA, or when an entry names a WABA of
// which no channel has the signing secret.
func Authorize(ctx context.Context, q *queries.Queries, n whatsapp.Notification, body []byte, signature string,
	open func(Channel) (string, error)) (Scope, error) {
	if whatsapp.CheckSignatureHeader(signature) != nil {
		return Scope{}, ErrUnauthorized // missing or malformed: nothing to look up
	}
	want, err := routing(n)
	if err != nil {
		return Scope{}, err
	}
	rows, err := q.ChannelsForWebhook(ctx, queries.ChannelsForWebhookParams{Numbers: want.numbers, Wabas: want.wabas})
	if err != nil {
		return Scope{}, err
	}
	// The secrets of the numbers named come first: a WABA may have numbers of other apps.
	slices.SortStableFunc(rows, func(a, b Channel) int {
		return compareBool(slices.Contains(want.numbers, b.PhoneNumberID), slices.Contains(want.numbers, a.PhoneNumberID))
	})
	secretOf := make(map[int64]string, len(rows))
	signer, tried := "", []string{}
	for _, ch := range rows {
		secret, err := open(ch)
		if err != nil {
			continue // a channel whose secret cannot be opened signs nothing
		}
		secretOf[ch.ID] = secret
		if signer != "" || slices.Contains(tried, secret) {
			continue
		}
		if len(tried) == MaxSecrets {
			return Scope{}, ErrUnauthorized // a forgery stops here, whatever the channels named
		}
		tried = append(tried, secret)
		if whatsapp.VerifySignature(body, signature, secret) == nil {
			signer = secret
		}
	}
	if signer == "" {
		return Scope{}, ErrUnauthorized
	}
	scope := Scope{byNumber: map[string]Channel{}, byWABA: map[string][]Channel{}}
	foreign := map[string]bool{} // numbers known here under another secret
	for _, ch := range rows {
		if secretOf[ch.ID] != signer {
			foreign[ch.PhoneNumberID] = true
			continue
		}
		scope.byNumber[ch.PhoneNumberID] = ch
		scope.byWABA[ch.WabaID] = append(scope.byWABA[ch.WabaID], ch)
	}
	for _, p := range want.pairs {
		if foreign[p[1]] {
			return Scope{}, ErrUnauthorized
		}
		if ch, ok := scope.byNumber[p[1]]; ok && ch.WabaID != p[0] {
			return Scope{}, ErrUnauthorized
		}
	}
	for _, waba := range want.wabas {
		if len(scope.byWABA[waba]) == 0 && knownWABA(rows, waba) {
			return Scope{}, ErrUnauthorized
		}
	}
	return scope, nil
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func knownWABA(rows []Channel, waba string) bool {
	return slices.ContainsFunc(rows, func(ch Channel) bool { return ch.WabaID == waba })
}

// Times outside this window around now are not believed: Meta redelivers for up to 7 days, and a
// clock a little ahead is tolerated (metasim's scaled clock, hours ahead, is not: a drip step
// counts its delay from its previous step's sent_at).
const (
	maxPast   = 8 * 24 * time.Hour
	maxFuture = time.Minute // clocks differ a little; a status does not happen in the future
)

// believable is t when it is plausible for an event Meta reports now, else now: a timestamp in
// 1970 or 2100 is never stored.
func believable(t, now time.Time) time.Time {
	if t.IsZero() || t.Before(now.Add(-maxPast)) || t.After(now.Add(maxFuture)) {
		return now
	}
	return t
}
