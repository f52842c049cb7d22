package broadcast

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/segment"
	"github.com/dripcast/dripcast/whatsapp"
)

// Review is what a person reads before scheduling a broadcast: who receives it and who is skipped
// and why, the portfolio's tier headroom (and so how many wait for tomorrow), and how long the
// sending takes at the number's throughput.
type Review struct {
	Matching      int64 // contacts the audience matches
	NotOptedIn    int64 // marketing only: skipped, they did not opt in
	Capped        int64 // marketing only: skipped, the account's frequency cap
	NotOnWhatsApp int64 // sent to, though a message to them failed before as not on WhatsApp
	WillSend      int64
	TierLimit     *int32 // unique recipients per moving 24 h; nil is unlimited
	TierUsed      int64  // reached in the moving 24 h, across the portfolio's numbers
	HeldForLater  int64  // past the tier's headroom: they wait until slots free
	HeldUntil     *time.Time
	Warning       string // held messages past the expiry (Estimate.Warning)
	MPS           int32  // messages a second: the number's throughput or the rate cap
	Duration      time.Duration
	// DeliveryPath is the endpoint the messages go through (whatsapp.EndpointFor).
	DeliveryPath string
	Retry        *policy.Retry // the broadcast's retry policy; nil: none
}

// ReviewOf counts a checked broadcast's audience as the expansion will see it now.
func ReviewOf(ctx context.Context, db *pgxpool.Pool, c Checked) (Review, error) {
	q := queries.New(db)
	account := c.Params.AccountID
	tpl, err := q.GetTemplate(ctx, queries.GetTemplateParams{AccountID: account, ID: c.Params.TemplateID})
	if err != nil {
		return Review{}, missing(err, "template")
	}
	acct, err := q.GetAccount(ctx, account)
	if err != nil {
		return Review{}, err
	}
	freqCap, err := marketingCap(acct, tpl)
	if err != nil {
		return Review{}, err
	}
	aud, err := ParseAudience(c.Params.Audience)
	if err != nil {
		return Review{}, err
	}
	var p segment.Params
	where, err := aud.where(ctx, q, account, &p)
	if err != nil {
		return Review{}, err
	}
	marketing := p.Add(tpl.Category == "marketing")
	var r Review
	err = db.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE `+marketing+` AND NOT c.opted_in),
		count(*) FILTER (WHERE `+marketing+` AND c.opted_in AND `+cappedSQL(&p, freqCap)+`),
		count(*) FILTER (WHERE EXISTS (SELECT 1 FROM messages m WHERE m.account_id = c.account_id AND m.contact_id = c.id AND m.error_code = `+
		p.Add(NotOnWhatsApp)+`))
		FROM contacts c WHERE `+where, p.Values...).Scan(&r.Matching, &r.NotOptedIn, &r.Capped, &r.NotOnWhatsApp)
	if err != nil {
		return Review{}, err
	}
	r.WillSend = r.Matching - r.NotOptedIn - r.Capped
	r.HeldUntil, r.Warning = c.Estimate.HeldUntil, c.Estimate.Warning
	r.Retry = policy.DecodeRetry(c.Params.RetryPolicy)
	ch, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: account, ID: c.Params.ChannelID})
	if err != nil {
		return Review{}, missing(err, "channel")
	}
	r.DeliveryPath = whatsapp.EndpointFor(tpl.Category, ch.MarketingMessages)
	return r, r.pace(ctx, q, account, c.Params)
}

// pace adds the tier headroom and the duration at the number's throughput.
func (r *Review) pace(ctx context.Context, q *queries.Queries, account int64, b queries.CreateBroadcastParams) error {
	health, err := q.ChannelHealth(ctx, account)
	if err != nil {
		return err
	}
	for _, ch := range health {
		if ch.ID != b.ChannelID {
			continue
		}
		r.TierLimit, r.TierUsed, r.MPS = ch.TierLimit, ch.TierUsed, ch.ThroughputMps
	}
	if b.RateCap != nil && *b.RateCap < r.MPS {
		r.MPS = *b.RateCap
	}
	sendable := r.WillSend
	if r.TierLimit != nil {
		headroom := max(0, int64(*r.TierLimit)-r.TierUsed)
		r.HeldForLater = max(0, r.WillSend-headroom)
		sendable -= r.HeldForLater
	}
	if r.MPS > 0 {
		r.Duration = time.Duration(math.Ceil(float64(sendable)/float64(r.MPS))) * time.Second
	}
	return nil
}
