package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/whatsapp"
)

// FromMeta reads a template as Meta lists it into Dripcast's form (without parameter sources),
// or says why Dripcast cannot send it.
func FromMeta(mt whatsapp.MessageTemplate) (Template, error) {
	t := Template{Name: mt.Name, Language: mt.Language, Category: strings.ToLower(mt.Category), Status: strings.ToLower(mt.Status)}
	switch {
	case !slices.Contains(Categories, t.Category):
		return t, fmt.Errorf("category %s", mt.Category)
	case !slices.Contains(Statuses, t.Status):
		return t, fmt.Errorf("status %s", mt.Status)
	}
	for _, c := range mt.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			format := strings.ToLower(c.Format)
			if !slices.Contains([]string{"text", "image", "video", "document", "location"}, format) {
				return t, fmt.Errorf("a %s header", c.Format)
			}
			t.Components.Header = &Header{Format: format}
			if format == "text" {
				t.Components.Header.Text = c.Text
			}
		case "BODY":
			t.Components.Body = Text{Text: c.Text}
		case "FOOTER":
			t.Components.Footer = &Text{Text: c.Text}
		case "BUTTONS":
			for _, b := range c.Buttons {
				kind := strings.ToLower(b.Type)
				if !slices.Contains([]string{"quick_reply", "url", "phone_number", "copy_code", "flow", "otp", "catalog"}, kind) {
					return t, fmt.Errorf("a %s button", b.Type)
				}
				text := b.Text
				if (kind == "copy_code" || kind == "otp") && text == "" {
					text = "Copy code"
				}
				t.Components.Buttons = append(t.Components.Buttons, Button{Type: kind, Text: text, URL: b.URL, PhoneNumber: b.PhoneNumber})
			}
		default:
			return t, fmt.Errorf("a %s component", c.Type)
		}
	}
	if _, err := t.Components.slots(); err != nil {
		return t, err
	}
	return t, nil
}

// Skipped is a listed template Dripcast cannot send, and why.
type Skipped struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Reason   string `json:"reason"`
}

// ToCheck is a template whose parameters need a person: a new one, or one whose text changed.
type ToCheck struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Note     string `json:"note"`
}

// SyncResult is what a sync changed.
type SyncResult struct {
	Created       int       `json:"created"`
	Updated       int       `json:"updated"`
	Unchanged     int       `json:"unchanged"`
	DeletedOnMeta int       `json:"deleted_on_meta"`
	Skipped       []Skipped `json:"skipped"`
	ToCheck       []ToCheck `json:"mappings_to_check"`
}

// Sync makes by's account's templates what a WABA lists: new ones are created (their parameters
// without sources yet), changed ones updated, keeping the sources of parameters that are still
// there (a note names those that need one), status changes pause or resume the campaigns as
// Meta's webhooks do, and a template of that WABA Meta no longer lists becomes deleted_on_meta
// (never deleted: campaigns may use it). Each change is audited.
func Sync(ctx context.Context, db *pgxpool.Pool, by audit.Actor, wabaID string, listed []whatsapp.MessageTemplate) (SyncResult, error) {
	res := SyncResult{Skipped: []Skipped{}, ToCheck: []ToCheck{}}
	var kept []int64
	for _, mt := range listed {
		t, err := FromMeta(mt)
		if err != nil {
			res.Skipped = append(res.Skipped, Skipped{Name: mt.Name, Language: mt.Language, Reason: err.Error()})
			continue
		}
		quality := "UNKNOWN"
		if mt.QualityScore != nil && slices.Contains([]string{"GREEN", "YELLOW", "RED"}, mt.QualityScore.Score) {
			quality = mt.QualityScore.Score
		}
		err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			id, err := syncOne(ctx, queries.New(tx), by, wabaID, t, quality, &res)
			kept = append(kept, id)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("template %s (%s): %w", mt.Name, mt.Language, err)
		}
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		q := queries.New(tx)
		gone, err := q.MarkDeletedOnMeta(ctx, queries.MarkDeletedOnMetaParams{AccountID: by.AccountID, WabaID: &wabaID, Listed: kept})
		if err != nil {
			return err
		}
		if err := q.TemplateSyncDone(ctx, queries.TemplateSyncDoneParams{AccountID: by.AccountID, WabaID: wabaID}); err != nil {
			return err
		}
		for _, g := range gone {
			res.DeletedOnMeta++
			if err := policy.PauseForTemplate(ctx, q, g.ID, "deleted_on_meta"); err != nil {
				return err
			}
			if err := audit.Record(ctx, q, by, "template.deleted_on_meta", "template", g.ID, nil, map[string]string{"name": g.Name, "language": g.Language}); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// syncOne creates or updates one listed template, and returns its id.
func syncOne(ctx context.Context, q *queries.Queries, by audit.Actor, wabaID string, t Template, quality string, res *SyncResult) (int64, error) {
	comps, _ := json.Marshal(t.Components)
	slots, _ := t.Components.slots()
	old, err := q.TemplateByName(ctx, queries.TemplateByNameParams{AccountID: by.AccountID, Name: t.Name, Language: t.Language})
	if errors.Is(err, pgx.ErrNoRows) {
		note := needed(slots, Mapping{})
		row, err := q.CreateSyncedTemplate(ctx, queries.CreateSyncedTemplateParams{AccountID: by.AccountID, Name: t.Name, Language: t.Language,
			Category: t.Category, Status: t.Status, Components: comps, QualityScore: quality, WabaID: &wabaID, MappingNote: note})
		if err != nil {
			return 0, err
		}
		res.Created++
		if note != "" {
			res.ToCheck = append(res.ToCheck, ToCheck{ID: row.ID, Name: t.Name, Language: t.Language, Note: note})
		}
		v, _ := ViewOf(row)
		return row.ID, audit.Record(ctx, q, by, "template.sync", "template", row.ID, nil, v)
	}
	if err != nil {
		return 0, err
	}
	var mapping Mapping
	_ = json.Unmarshal(old.Parameters, &mapping)
	note := old.MappingNote
	if !jsonEqual(old.Components, comps) { // Meta's text changed: keep the sources of the slots still there
		for slot := range mapping {
			if _, ok := slots[slot]; !ok {
				delete(mapping, slot)
			}
		}
		note = needed(slots, mapping)
	}
	params, _ := json.Marshal(mapping)
	if jsonEqual(old.Components, comps) && old.Category == t.Category && old.Status == t.Status && old.QualityScore == quality &&
		old.WabaID != nil && *old.WabaID == wabaID {
		res.Unchanged++
		return old.ID, nil
	}
	row, err := q.SyncTemplate(ctx, queries.SyncTemplateParams{AccountID: by.AccountID, ID: old.ID, Category: t.Category, Status: t.Status,
		Components: comps, Parameters: params, QualityScore: quality, WabaID: &wabaID, MappingNote: note})
	if err != nil {
		return 0, err
	}
	res.Updated++
	if note != "" && note != old.MappingNote {
		res.ToCheck = append(res.ToCheck, ToCheck{ID: row.ID, Name: t.Name, Language: t.Language, Note: note})
	}
	if old.Status != t.Status { // Meta changed it without a webhook reaching Dripcast
		if err := policy.FollowTemplate(ctx, q, old.ID, t.Status); err != nil {
			return 0, err
		}
	}
	before, _ := ViewOf(old)
	after, _ := ViewOf(row)
	return row.ID, audit.Record(ctx, q, by, "template.sync", "template", row.ID, before, after)
}

// needed names the required parameters no source fills ("" when none).
func needed(slots map[string]slot, m Mapping) string {
	var missing []string
	for name, s := range slots {
		if _, ok := m[name]; s.required && !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	sort.Strings(missing)
	return "needs a source for " + strings.Join(missing, ", ")
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(ax, by)
}

// SyncChannel lists the templates of the WABA of one of by's channels, with its token, and syncs
// them (Sync). Meta refusing the listing (a token without the WABA, say) is a conflict to show.
func SyncChannel(ctx context.Context, db *pgxpool.Pool, by audit.Actor, meta *whatsapp.Client, box *secrets.Box, channelID int64) (SyncResult, error) {
	ch, err := queries.New(db).GetChannel(ctx, queries.GetChannelParams{AccountID: by.AccountID, ID: channelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return SyncResult{}, invalid.NotFound("channel")
	}
	if err != nil {
		return SyncResult{}, err
	}
	token, err := box.Open(ch.AccessTokenEnc, secrets.ChannelToken(ch.PhoneNumberID))
	if err != nil {
		return SyncResult{}, err
	}
	listed, err := meta.MessageTemplates(ctx, token, ch.WabaID)
	var apiErr *whatsapp.APIError
	if errors.As(err, &apiErr) {
		return SyncResult{}, invalid.Conflict("Meta refused to list the templates of WABA %s: %s", ch.WabaID, apiErr.Message)
	}
	if err != nil {
		return SyncResult{}, err
	}
	return Sync(ctx, db, by, ch.WabaID, listed)
}
