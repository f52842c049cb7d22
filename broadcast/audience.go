// Package broadcast turns a broadcast into message rows: it checks what a marketer asks for,
// estimates the audience, and expands it one set-based statement per chunk of contacts.
package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
)

// MaxListedRecipients bounds an audience given as contact ids or phone numbers.
const MaxListedRecipients = 10000

// Audience is who a broadcast goes to: exactly one of a segment, a tag, contact ids or phones.
type Audience struct {
	SegmentID  int64    `json:"segment_id,omitempty"`
	Tag        string   `json:"tag,omitempty"`
	ContactIDs []int64  `json:"contact_ids,omitempty"`
	Phones     []string `json:"phones,omitempty"`
}

// Normalize checks the audience and puts listed phones in E.164 (a national number needs
// defaultCountry). It returns the phones it could not read.
func (a *Audience) Normalize(defaultCountry string) (unreadable []string, err error) {
	kinds := 0
	for _, set := range []bool{a.SegmentID != 0, a.Tag != "", len(a.ContactIDs) > 0, len(a.Phones) > 0} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, invalid.Field("audience", "give exactly one of segment_id, tag, contact_ids or phones")
	}
	if len(a.ContactIDs) > MaxListedRecipients || len(a.Phones) > MaxListedRecipients {
		return nil, invalid.Field("audience", "at most %d listed recipients; use a segment or a tag", MaxListedRecipients)
	}
	if len(a.Tag) > 64 {
		return nil, invalid.Field("audience.tag", "at most 64 characters")
	}
	if len(a.Phones) > 0 {
		seen := map[string]bool{}
		out := a.Phones[:0]
		for _, p := range a.Phones {
			n, err := phone.Normalize(p, defaultCountry)
			if err != nil {
				unreadable = append(unreadable, p)
				continue
			}
			if !seen[n.E164] {
				seen[n.E164] = true
				out = append(out, n.E164)
			}
		}
		a.Phones = out
	}
	return unreadable, nil
}

// where is the audience as a WHERE clause over contacts c, its values added to p.
func (a Audience) where(ctx context.Context, q *queries.Queries, accountID int64, p *segment.Params) (string, error) {
	var rule *segment.Rule
	switch {
	case a.SegmentID != 0:
		seg, err := q.GetSegment(ctx, queries.GetSegmentParams{AccountID: accountID, ID: a.SegmentID})
		if err != nil {
			return "", invalid.Field("audience.segment_id", "no such segment")
		}
		r, err := segment.Parse(seg.Rules)
		if err != nil {
			return "", invalid.Within("audience", err)
		}
		rule = &r
	case a.Tag != "":
		v, _ := json.Marshal(a.Tag)
		rule = &segment.Rule{Field: "tags", Op: "contains", Value: v}
	}
	sql, err := segment.Where(accountID, rule, p)
	if err != nil {
		return "", invalid.Within("audience", err)
	}
	switch {
	case len(a.ContactIDs) > 0:
		return sql + " AND c.id = ANY(" + p.Add(a.ContactIDs) + "::bigint[])", nil
	case len(a.Phones) > 0:
		return sql + " AND c.phone = ANY(" + p.Add(a.Phones) + "::text[])", nil
	}
	return sql, nil
}

// Estimate counts the contacts the audience matches and, for a marketing template, how many of
// them opted in (the others will be skipped).
type Estimate struct {
	Matching int64 `json:"matching"`
	Eligible int64 `json:"eligible"`
	// HeldByTier of the eligible find no room in the portfolio's messaging tier (as it is now):
	// they go as slots of the moving 24 h free, the last at about HeldUntil.
	HeldByTier int64      `json:"held_by_tier"`
	HeldUntil  *time.Time `json:"held_until,omitempty"`
	// Warning says what a person should know before sending: held messages past the expiry.
	Warning string `json:"warning,omitempty"`
}

// EstimateAudience counts an audience.
func EstimateAudience(ctx context.Context, db segment.Querier, q *queries.Queries, accountID int64, a Audience, marketing bool) (Estimate, error) {
	var p segment.Params
	where, err := a.where(ctx, q, accountID, &p)
	if err != nil {
		return Estimate{}, err
	}
	var e Estimate
	err = db.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE c.opted_in OR NOT "+p.Add(marketing)+
		") FROM contacts c WHERE "+where, p.Values...).Scan(&e.Matching, &e.Eligible)
	return e, err
}

// ParseAudience reads a stored audience.
func ParseAudience(raw []byte) (Audience, error) {
	var a Audience
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, errors.New("stored audience is malformed")
	}
	return a, nil
}
