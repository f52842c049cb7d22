package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/whatsapp"
)

// ErrNothingToRetry is a retry of a broadcast none of whose messages failed for a reason worth
// retrying or was concluded not sent.
var ErrNothingToRetry = errors.New("no message of this broadcast failed with a reason worth retrying or was concluded not sent")

// Retry is a new broadcast of b, sent at now, to the recipients whose messages failed with a
// reason worth retrying (the per-user marketing cap, transient errors) or were concluded not sent
// (not_sent). Those who opted out, are not on WhatsApp, or cannot get the message are left out.
func Retry(ctx context.Context, q *queries.Queries, b queries.Broadcast, now time.Time) (queries.CreateBroadcastParams, error) {
	contacts, err := retryableContacts(ctx, q, b)
	if err != nil {
		return queries.CreateBroadcastParams{}, err
	}
	if len(contacts) == 0 {
		return queries.CreateBroadcastParams{}, ErrNothingToRetry
	}
	audience, _ := json.Marshal(Audience{ContactIDs: contacts})
	return queries.CreateBroadcastParams{AccountID: b.AccountID, ChannelID: b.ChannelID, TemplateID: b.TemplateID,
		Name: b.Name + " (retry)", Status: queries.BroadcastStatusScheduled, Audience: audience, Parameters: b.Parameters, SendAt: &now,
		RateCap: b.RateCap, AudienceCount: int32(len(contacts)), RetryOf: &b.ID, RetryPolicy: b.RetryPolicy}, nil
}

// retryableContacts are the recipients of b whose messages failed with a reason worth retrying
// (the per-user marketing cap, transient errors) or were concluded not sent.
func retryableContacts(ctx context.Context, q *queries.Queries, b queries.Broadcast) ([]int64, error) {
	codes, err := q.FailedCodes(ctx, queries.FailedCodesParams{AccountID: b.AccountID, BroadcastID: &b.ID})
	if err != nil {
		return nil, err
	}
	var retryable []int32
	for _, c := range codes {
		if cl := whatsapp.ClassifyCode(int(c)); cl.Retryable() && !cl.OptOut {
			retryable = append(retryable, c)
		}
	}
	return q.FailedContacts(ctx, queries.FailedContactsParams{AccountID: b.AccountID, BroadcastID: &b.ID, Codes: retryable})
}
