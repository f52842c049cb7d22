package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
)

// Slices are the funnel slices a broadcast can be retargeted to.
var Slices = []string{"read_not_replied", "delivered_not_read", "failed_retryable"}

// RetargetInput is what a retargeting draft starts from: the slice of the broadcast's funnel, and
// optionally its own name and template (a follow-up usually says something else).
type RetargetInput struct {
	Slice      string `json:"slice"`
	Name       string `json:"name,omitempty"`
	TemplateID int64  `json:"template_id,omitempty"`
}

// Retarget makes a draft broadcast on the same number to the contacts of one funnel slice of
// broadcast id, as they stand now: the list is frozen in the draft's audience, so it does not
// drift as statuses and replies come in. The draft is edited and scheduled like any other (its
// expansion still skips who opted out or was erased since).
func Retarget(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, in RetargetInput) (out queries.Broadcast, err error) {
	b, err := Get(ctx, db, by.AccountID, id) // first: another account's broadcast is not found, whatever was sent
	if err != nil {
		return out, err
	}
	if !slices.Contains(Slices, in.Slice) {
		return out, invalid.Field("slice", "one of %s", strings.Join(Slices, ", "))
	}
	if len(in.Name) > 200 {
		return out, invalid.Field("name", "at most 200 characters")
	}
	q := queries.New(db)
	template := b.TemplateID
	if in.TemplateID != 0 {
		t, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: by.AccountID, ID: in.TemplateID})
		if errors.Is(err, pgx.ErrNoRows) {
			return out, invalid.Field("template_id", "no template %d in this account", in.TemplateID)
		}
		if err != nil {
			return out, err
		}
		template = t.ID
	}
	var contacts []int64
	if in.Slice == "failed_retryable" {
		contacts, err = retryableContacts(ctx, q, b)
	} else {
		contacts, err = q.SliceContacts(ctx, queries.SliceContactsParams{AccountID: by.AccountID, BroadcastID: &b.ID, Slice: in.Slice})
	}
	if err != nil {
		return out, err
	}
	if len(contacts) == 0 {
		return out, invalid.Conflict("nobody is in the slice %s of broadcast %d", in.Slice, b.ID)
	}
	name := in.Name
	if name == "" {
		name = b.Name + " (" + strings.ReplaceAll(in.Slice, "_", " ") + ")"
	}
	audience, _ := json.Marshal(Audience{ContactIDs: contacts})
	params := queries.CreateBroadcastParams{AccountID: b.AccountID, ChannelID: b.ChannelID, TemplateID: template, Name: name,
		Status: queries.BroadcastStatusDraft, Audience: audience, Parameters: json.RawMessage(`{}`), SendWindow: b.SendWindow,
		RateCap: b.RateCap, AudienceCount: int32(len(contacts)), RetryPolicy: b.RetryPolicy}
	if template == b.TemplateID {
		params.Parameters = b.Parameters // the same template's overrides; another template's are set in the draft
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		if out, err = q.CreateBroadcast(ctx, params); err != nil {
			return err
		}
		return audit.Record(ctx, q, by, "broadcast.retarget", "broadcast", out.ID, nil,
			map[string]any{"from": b.ID, "slice": in.Slice, "broadcast": ViewOf(out)})
	})
	return out, err
}
