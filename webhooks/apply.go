// Package webhooks applies what Meta's webhooks report: message statuses (in batches, only ever
// forward), replies and opt-outs, quality and tier changes, template pauses.
package webhooks

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/db"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/whatsapp"
)

// Result counts what one notification changed.
type Result struct {
	Statuses int // status events read
	Updated  int // message rows changed
	Inbound  int
	OptOuts  int
	SetAside int // statuses Postgres refused alone, kept in set_aside
	Settled  int // unknown (or not_sent) messages a status settled
	// StatusTimes are the times the statuses happened at Meta, for the apply lag.
	StatusTimes []time.Time
}

// Beginner starts transactions: a pool, or a transaction (whose Begin is a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Deliver applies a notification in one transaction, so a delivery applies whole or not at all,
// changing only the channels in scope (see Authorize); now is when it arrived. When a status
// breaks the batched statement (its wamid already another message's, a value Postgres refuses),
// the delivery is applied again with each status alone: that one is set aside (the set_aside
// table, with its error; Result.SetAside counts it) and every other lands.
func Deliver(ctx context.Context, pool Beginner, n whatsapp.Notification, scope Scope, now time.Time, log *slog.Logger) (Result, error) {
	var res Result
	deliver := func(oneByOne bool) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) (err error) {
			res, err = applyIn(ctx, tx, n, scope, now, log, oneByOne)
			return err
		})
	}
	err := deliver(false)
	if db.RowError(err) {
		log.Warn("a status of a webhook delivery broke its batch: applying them one by one", "err", err)
		err = deliver(true)
	}
	return res, err
}

// applyIn applies a notification in tx; oneByOne writes each status alone, setting aside those
// Postgres refuses.
func applyIn(ctx context.Context, tx pgx.Tx, n whatsapp.Notification, scope Scope, now time.Time, log *slog.Logger, oneByOne bool) (Result, error) {
	q := queries.New(tx)
	var res Result
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			v, known, err := c.Decode()
			if err != nil {
				log.Warn("webhook change not understood", "field", c.Field, "err", err)
				continue
			}
			if !known {
				continue
			}
			switch v := v.(type) {
			case *whatsapp.MessagesValue:
				if ch, ok := scope.number(v.Metadata.PhoneNumberID, e.ID); ok {
					w := statusWriter{tx: tx, q: q, channelID: ch.ID, oneByOne: oneByOne}
					err = applyMessages(ctx, q, w, ch, v, now, &res)
				}
			case *whatsapp.UserPreferencesValue:
				if ch, ok := scope.number(v.Metadata.PhoneNumberID, e.ID); ok {
					err = applyPreferences(ctx, q, ch, v, now, &res)
				}
			case *whatsapp.QualityUpdate:
				err = applyQuality(ctx, q, scope.byWABA[e.ID], v)
			case *whatsapp.TemplateStatusUpdate:
				err = applyTemplate(ctx, q, scope.byWABA[e.ID], v)
			case *whatsapp.TemplateQualityUpdate:
				err = applyTemplateQuality(ctx, q, scope.byWABA[e.ID], v)
			}
			if err != nil {
				return res, fmt.Errorf("%s: %w", c.Field, err)
			}
		}
	}
	return res, nil
}

func applyMessages(ctx context.Context, q *queries.Queries, w statusWriter, ch Channel, v *whatsapp.MessagesValue, now time.Time, res *Result) error {
	if len(v.Statuses) > 0 {
		a, err := applyStatuses(ctx, q, w, v.Statuses, now)
		if err != nil {
			return err
		}
		res.Statuses += len(v.Statuses)
		res.Updated += a.updated
		res.Settled += a.settled
		res.SetAside += a.aside
		for _, s := range v.Statuses {
			if at := s.Time(); !at.IsZero() {
				res.StatusTimes = append(res.StatusTimes, at)
			}
		}
	}
	for _, m := range v.Messages {
		if err := applyInbound(ctx, q, ch, m, now, res); err != nil {
			return err
		}
	}
	return nil
}

// update is one message's statuses of a delivery, merged: Postgres updates a row once per
// statement, so two statuses of one message must become one row.
type update struct {
	ID          int64      `json:"id"`
	WAMID       string     `json:"wamid"`
	Status      string     `json:"status"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	FailedAt    *time.Time `json:"failed_at,omitempty"`
	Code        *int       `json:"code,omitempty"`
	// Billable and Category are Meta's pricing of the message (from any of its statuses).
	Billable *bool  `json:"billable,omitempty"`
	Category string `json:"pricing_category,omitempty"`
	// Attempt is the attempt the statuses are about (sendtask.Callback); nil when found by wamid,
	// which only the current attempt has.
	Attempt *int `json:"attempt,omitempty"`
}

var rank = map[string]int{"sent": 4, "failed": 5, "delivered": 6, "read": 7}

// applied counts what a channel's statuses did: messages updated, of which unknown ones settled,
// and statuses set aside.
type applied struct{ updated, settled, aside int }

// applyStatuses writes a delivery's statuses for one channel.
func applyStatuses(ctx context.Context, q *queries.Queries, w statusWriter, statuses []whatsapp.Status, now time.Time) (applied, error) {
	byID, err := messageIDs(ctx, q, w.channelID, statuses)
	if err != nil {
		return applied{}, err
	}
	merged := map[int64]*update{}
	for _, s := range statuses {
		id, attempt, ok := byID(s)
		if _, known := rank[s.Status]; !ok || !known {
			continue // not ours, or a status Dripcast does not track
		}
		u := merged[id]
		if u == nil || u.Attempt != nil && *u.Attempt < attempt {
			u = &update{ID: id, WAMID: s.ID, Status: s.Status}
			if attempt >= 0 {
				u.Attempt = &attempt
			}
			merged[id] = u
		} else if u.Attempt != nil && attempt >= 0 && attempt < *u.Attempt {
			continue // an earlier attempt's, in the same delivery as a later one's
		}
		if rank[s.Status] > rank[u.Status] {
			u.Status = s.Status
		}
		if p := s.Pricing; p != nil {
			u.Billable, u.Category = &p.Billable, strings.ToLower(p.Category)
		}
		at := believable(s.Time(), now)
		switch s.Status {
		case "sent":
			u.SentAt = earliest(u.SentAt, at)
		case "delivered":
			u.DeliveredAt = earliest(u.DeliveredAt, at)
		case "read":
			u.ReadAt = earliest(u.ReadAt, at)
		case "failed":
			u.FailedAt = earliest(u.FailedAt, at)
			if len(s.Errors) > 0 {
				u.Code = &s.Errors[0].Code
			}
		}
	}
	if len(merged) == 0 {
		return applied{}, nil
	}
	rows := make([]*update, 0, len(merged))
	ids := make([]int64, 0, len(merged))
	for id, u := range merged {
		rows = append(rows, u)
		ids = append(ids, id)
	}
	if err := q.LockMessages(ctx, queries.LockMessagesParams{Ids: ids, ChannelID: w.channelID}); err != nil {
		return applied{}, err
	}
	return w.write(ctx, rows)
}

// statusWriter writes a channel's merged statuses: in one statement, or one by one, each in a
// savepoint, setting aside those Postgres refuses.
type statusWriter struct {
	tx        pgx.Tx
	q         *queries.Queries
	channelID int64
	oneByOne  bool
}

func (w statusWriter) write(ctx context.Context, rows []*update) (applied, error) {
	if !w.oneByOne {
		return w.apply(ctx, w.q, rows)
	}
	var a applied
	for _, u := range rows {
		sp, err := w.tx.Begin(ctx)
		if err != nil {
			return a, err
		}
		one, err := w.apply(ctx, queries.New(sp), []*update{u})
		if err == nil {
			a.updated += one.updated
			a.settled += one.settled
			err = sp.Commit(ctx)
		} else if db.RowError(err) {
			a.aside++
			err = errors.Join(sp.Rollback(ctx), w.setAside(ctx, u, err))
		}
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

func (w statusWriter) apply(ctx context.Context, q *queries.Queries, rows []*update) (applied, error) {
	payload, _ := json.Marshal(rows)
	r, err := q.ApplyStatuses(ctx, queries.ApplyStatusesParams{Rows: payload, ChannelID: w.channelID})
	return applied{updated: int(r.Updated), settled: int(r.Settled)}, err
}

func (w statusWriter) setAside(ctx context.Context, u *update, cause error) error {
	payload, _ := json.Marshal(u)
	return w.q.SetAside(ctx, queries.SetAsideParams{Batch: "status", MessageID: u.ID, ChannelID: w.channelID, Payload: payload, Error: cause.Error()})
}

// messageIDs maps statuses to message ids and the attempt they are about: by what Dripcast put
// in biz_opaque_callback_data (sendtask.Callback), else by wamid (a message sent before that
// field, or by another tool: its current attempt, attempt -1).
func messageIDs(ctx context.Context, q *queries.Queries, channelID int64, statuses []whatsapp.Status) (func(whatsapp.Status) (int64, int, bool), error) {
	var wamids []string
	for _, s := range statuses {
		if _, _, ok := sendtask.ParseCallback(s.BizOpaqueCallbackData); !ok {
			wamids = append(wamids, s.ID)
		}
	}
	byWAMID := map[string]int64{}
	if len(wamids) > 0 {
		rows, err := q.MessageIDsByWAMID(ctx, queries.MessageIDsByWAMIDParams{ChannelID: channelID, Wamids: wamids})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.Wamid != nil {
				byWAMID[*r.Wamid] = r.ID
			}
		}
	}
	return func(s whatsapp.Status) (int64, int, bool) {
		if id, attempt, ok := sendtask.ParseCallback(s.BizOpaqueCallbackData); ok {
			return id, attempt, true
		}
		id, ok := byWAMID[s.ID]
		return id, -1, ok
	}, nil
}

func earliest(cur *time.Time, t time.Time) *time.Time {
	if cur == nil || t.Before(*cur) {
		return &t
	}
	return cur
}

// applyInbound records a user's message: the service window opens, the message it answers is
// marked replied, and an opt-out keyword opts the contact out of marketing.
func applyInbound(ctx context.Context, q *queries.Queries, ch Channel, m whatsapp.InboundMessage, now time.Time, res *Result) error {
	if m.From == "" {
		return nil // a username-only user: no phone number to match a contact by
	}
	contact, err := q.ContactForInbound(ctx, queries.ContactForInboundParams{AccountID: ch.AccountID, Phone: "+" + m.From})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	res.Inbound++
	at := believable(m.Time(), now)
	if err := q.MarkInbound(ctx, queries.MarkInboundParams{ID: contact, At: at}); err != nil {
		return err
	}
	quoted := ""
	if m.Context != nil {
		quoted = m.Context.ID
	}
	keywords, err := optOutKeywords(ctx, q, ch.AccountID)
	if err != nil {
		return err
	}
	optOut := slices.Contains(keywords, strings.ToUpper(strings.TrimSpace(m.Content())))
	if _, err := q.MarkAnswered(ctx, queries.MarkAnsweredParams{ChannelID: ch.ID, ContactID: contact, Context: quoted, At: at,
		Replied: true, OptedOut: optOut}); err != nil {
		return err
	}
	if optOut {
		res.OptOuts++
		if err := q.OptOutContact(ctx, queries.OptOutContactParams{ContactID: contact, Source: "whatsapp_reply"}); err != nil {
			return err
		}
		if err := exitSequences(ctx, q, ch.ID, contact, "on_opt_out", "opted_out"); err != nil {
			return err
		}
	}
	return exitSequences(ctx, q, ch.ID, contact, "on_reply", "replied")
}

// exitSequences ends the contact's open enrollments in the number's sequences that exit on a
// reply or an opt-out (flag), and drops their unsent steps.
func exitSequences(ctx context.Context, q *queries.Queries, channelID, contact int64, flag, reason string) error {
	ids, err := q.ExitOnInbound(ctx, queries.ExitOnInboundParams{ContactID: contact, ChannelID: channelID, Flag: flag, Reason: reason})
	if err != nil || len(ids) == 0 {
		return err
	}
	return q.SkipUnsentSteps(ctx, ids)
}

func optOutKeywords(ctx context.Context, q *queries.Queries, accountID int64) ([]string, error) {
	acct, err := q.GetAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	settings, err := policy.ParseSettings(acct.Settings)
	if err != nil {
		return policy.DefaultOptOutKeywords, nil
	}
	return settings.Keywords(), nil
}

// applyPreferences follows a user who stopped (or resumed) marketing messages in WhatsApp.
func applyPreferences(ctx context.Context, q *queries.Queries, ch Channel, v *whatsapp.UserPreferencesValue, now time.Time, res *Result) error {
	for _, p := range v.UserPreferences {
		if p.Category != "marketing_messages" {
			continue
		}
		contact, err := q.ContactForInbound(ctx, queries.ContactForInboundParams{AccountID: ch.AccountID, Phone: "+" + p.WaID})
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		switch p.Value {
		case "stop":
			res.OptOuts++
			at := believable(time.Unix(p.Timestamp, 0), now) // none (0) is 1970: not believed
			if _, err = q.MarkAnswered(ctx, queries.MarkAnsweredParams{ChannelID: ch.ID, ContactID: contact, At: at, OptedOut: true}); err == nil {
				err = q.OptOutContact(ctx, queries.OptOutContactParams{ContactID: contact, Source: "meta_user_preferences"})
			}
			if err == nil {
				err = exitSequences(ctx, q, ch.ID, contact, "on_opt_out", "opted_out")
			}
		case "resume":
			_, err = q.SetContactOptIn(ctx, queries.SetContactOptInParams{OptedIn: true, Source: "meta_user_preferences",
				SetBy: "meta", AccountID: ch.AccountID, ID: contact})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyQuality follows a number's quality and its portfolio's tier. RED pauses the marketing
// broadcasts of the number, with the reason.
func applyQuality(ctx context.Context, q *queries.Queries, wabaChannels []Channel, v *whatsapp.QualityUpdate) error {
	i := slices.IndexFunc(wabaChannels, func(ch Channel) bool { return ch.DisplayNumber == "+"+v.DisplayPhoneNumber })
	if i < 0 {
		return nil
	}
	ch := wabaChannels[i]
	rating := map[string]string{"FLAGGED": "RED", "UNFLAGGED": "GREEN"}[v.Event]
	if rating != "" {
		if err := q.SetChannelQuality(ctx, queries.SetChannelQualityParams{ID: ch.ID, QualityRating: rating}); err != nil {
			return err
		}
	}
	if rating == "RED" {
		if err := policy.PauseMarketingOnRed(ctx, q, ch.ID); err != nil {
			return err
		}
	}
	limit := v.MaxDailyConversationsPerBusiness
	if limit == "" {
		limit = v.CurrentLimit
	}
	if t, ok := policy.TierLimit(limit); ok {
		return q.SetPortfolioTier(ctx, queries.SetPortfolioTierParams{ID: ch.PortfolioID, TierLimit: t})
	}
	return nil
}

// applyTemplate follows Meta's template decisions, each noted on the template's history: paused
// or rejected, the broadcasts and sequences that use it pause; approved (a pause's end) or
// reinstated, they resume; disabled, they stop for good; flagged, the template still sends and
// shows the date Meta will disable it unless its quality improves.
func applyTemplate(ctx context.Context, q *queries.Queries, wabaChannels []Channel, v *whatsapp.TemplateStatusUpdate) error {
	accounts := accountsOf(wabaChannels)
	if len(accounts) == 0 {
		return nil
	}
	var disableDate *time.Time
	if v.DisableInfo != nil {
		disableDate = v.DisableInfo.DisableDate.Time()
	}
	event := strings.ToUpper(v.Event)
	name := queries.RecordTemplateEventParams{AccountIds: accounts, Name: v.MessageTemplateName, Language: v.MessageTemplateLanguage,
		Event: event, Detail: templateEventDetail(v.Reason, disableDate)}
	if err := q.RecordTemplateEvent(ctx, name); err != nil {
		return err
	}
	if event == "FLAGGED" {
		return q.FlagTemplateByName(ctx, queries.FlagTemplateByNameParams{AccountIds: accounts, Name: name.Name, Language: name.Language,
			DisableDate: disableDate})
	}
	status, ok := map[string]string{"APPROVED": "approved", "REINSTATED": "approved", "PENDING": "pending", "REJECTED": "rejected",
		"PAUSED": "paused", "DISABLED": "disabled"}[event]
	if !ok {
		return nil // archived, locked, in appeal…: on the history only
	}
	for _, acct := range accounts {
		ids, err := q.SetTemplateStatusByName(ctx, queries.SetTemplateStatusByNameParams{Status: status, AccountID: acct,
			Name: name.Name, Language: name.Language, ClearFlag: event == "REINSTATED" || event == "DISABLED"})
		if err != nil {
			return err
		}
		if len(ids) == 0 { // a template made on Meta's side: the scheduler syncs this WABA soon
			if err := q.WantTemplateSync(ctx, queries.WantTemplateSyncParams{AccountID: acct, WabaID: wabaChannels[0].WabaID}); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if err := policy.FollowTemplate(ctx, q, id, status); err != nil {
				return err
			}
		}
	}
	return nil
}

// templateEventDetail is what a history entry says beside Meta's event: its reason (NONE is no
// reason) and the disable date.
func templateEventDetail(reason string, disableDate *time.Time) string {
	var parts []string
	if reason != "" && !strings.EqualFold(reason, "NONE") {
		parts = append(parts, reason)
	}
	if disableDate != nil {
		parts = append(parts, "disable date "+disableDate.Format(time.DateOnly))
	}
	return strings.Join(parts, "; ")
}

// accountsOf lists the accounts of a WABA's channels, once each.
func accountsOf(channels []Channel) []int64 {
	var accounts []int64
	for _, ch := range channels {
		if !slices.Contains(accounts, ch.AccountID) {
			accounts = append(accounts, ch.AccountID)
		}
	}
	return accounts
}

// applyTemplateQuality records Meta's quality score of a template, for people to see: Meta
// pauses a template whose quality falls, and says so with a status update.
func applyTemplateQuality(ctx context.Context, q *queries.Queries, wabaChannels []Channel, v *whatsapp.TemplateQualityUpdate) error {
	score := strings.ToUpper(v.NewQualityScore)
	if !slices.Contains([]string{"GREEN", "YELLOW", "RED", "UNKNOWN"}, score) || len(wabaChannels) == 0 {
		return nil
	}
	accounts := accountsOf(wabaChannels)
	if err := q.RecordTemplateEvent(ctx, queries.RecordTemplateEventParams{AccountIds: accounts, Name: v.MessageTemplateName,
		Language: v.MessageTemplateLanguage, Event: "QUALITY", Detail: cmp.Or(strings.ToUpper(v.PreviousQualityScore), "UNKNOWN") + " → " + score}); err != nil {
		return err
	}
	return q.SetTemplateQualityByName(ctx, queries.SetTemplateQualityByNameParams{QualityScore: score,
		AccountIds: accounts, Name: v.MessageTemplateName, Language: v.MessageTemplateLanguage})
}
