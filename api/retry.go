package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/whatsapp"
)

// retryFailed makes a new broadcast, sent now, to the recipients whose messages failed with a
// reason worth retrying (per-user marketing cap, transient errors). Those who opted out, are not
// on WhatsApp, or cannot get the message are left out.
func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) error {
	b, err := s.loadBroadcast(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	codes, err := s.q.FailedCodes(ctx, queries.FailedCodesParams{AccountID: p.AccountID, BroadcastID: &b.ID})
	if err != nil {
		return err
	}
	var retryable []int32
	for _, c := range codes {
		if cl := whatsapp.ClassifyCode(int(c)); cl.Retryable() && !cl.OptOut {
			retryable = append(retryable, c)
		}
	}
	var contacts []int64
	if len(retryable) > 0 {
		if contacts, err = s.q.FailedContacts(ctx, queries.FailedContactsParams{AccountID: p.AccountID, BroadcastID: &b.ID, Codes: retryable}); err != nil {
			return err
		}
	}
	if len(contacts) == 0 {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "no message of this broadcast failed with a reason worth retrying"}
	}
	audience, _ := json.Marshal(broadcast.Audience{ContactIDs: contacts})
	now := time.Now()
	var out queries.Broadcast
	err = s.inTx(ctx, func(q *queries.Queries) error {
		out, err = q.CreateBroadcast(ctx, queries.CreateBroadcastParams{AccountID: p.AccountID, ChannelID: b.ChannelID,
			TemplateID: b.TemplateID, Name: b.Name + " (retry)", Status: "scheduled", Audience: audience, Parameters: b.Parameters,
			SendAt: &now, RateCap: b.RateCap, AudienceCount: int32(len(contacts)), RetryOf: &b.ID})
		if err != nil {
			return err
		}
		return s.audit(ctx, q, "broadcast.retry_failed", "broadcast", out.ID, nil, viewBroadcast(out))
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewBroadcast(out))
	return nil
}
