// Package channels registers an account's WhatsApp numbers (once Meta confirms the token owns
// them) and their business portfolios with Meta's messaging tiers, for the API and the console
// alike.
package channels

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/audit"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/whatsapp"
)

// Tiers are Meta's messaging tiers: unique recipients per moving 24 h. Unlimited is stored as nil.
var Tiers = []int32{250, 2000, 10000, 100000}

// TierView shows a tier as the API does: a number, or "unlimited".
func TierView(limit *int32) any {
	if limit == nil {
		return "unlimited"
	}
	return *limit
}

// PortfolioView is a portfolio as people see it.
type PortfolioView struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	BusinessID string    `json:"business_id"`
	Tier       any       `json:"tier"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ViewPortfolio is a stored portfolio's view.
func ViewPortfolio(p queries.Portfolio) PortfolioView {
	return PortfolioView{p.ID, p.Name, p.BusinessID, TierView(p.TierLimit), p.CreatedAt, p.UpdatedAt}
}

// PortfolioInput is a portfolio to make or replace. TierSet says Tier was given (nil then means
// unlimited); a new portfolio without one starts at Meta's lowest tier, and an edit keeps its own.
type PortfolioInput struct {
	Name, BusinessID string
	Tier             *int32
	TierSet          bool
}

func (in *PortfolioInput) check() error {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Name == "" || len(in.Name) > 200:
		return invalid.Field("name", "is required, at most 200 characters")
	case len(in.BusinessID) > 64:
		return invalid.Field("business_id", "is at most 64 characters")
	case in.TierSet && in.Tier != nil && !slices.Contains(Tiers, *in.Tier):
		return invalid.Field("tier", `must be 250, 2000, 10000, 100000 or "unlimited"`)
	}
	return nil
}

// CreatePortfolio makes a portfolio of by's account.
func CreatePortfolio(ctx context.Context, db *pgxpool.Pool, by audit.Actor, in PortfolioInput) (PortfolioView, error) {
	if err := in.check(); err != nil {
		return PortfolioView{}, err
	}
	if !in.TierSet {
		in.Tier = &Tiers[0]
	}
	var view PortfolioView
	err := audit.Change(ctx, db, by, "portfolio.create", "portfolio", func(q *queries.Queries) (int64, any, any, error) {
		out, err := q.CreatePortfolio(ctx, queries.CreatePortfolioParams{AccountID: by.AccountID, Name: in.Name,
			BusinessID: in.BusinessID, TierLimit: in.Tier})
		view = ViewPortfolio(out)
		return out.ID, nil, view, err
	})
	return view, err
}

// GetPortfolio is a portfolio of the account.
func GetPortfolio(ctx context.Context, q *queries.Queries, account, id int64) (queries.Portfolio, error) {
	p, err := q.GetPortfolio(ctx, queries.GetPortfolioParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return p, invalid.NotFound("portfolio")
	}
	return p, err
}

// UpdatePortfolio replaces a portfolio's name, business id and tier (a tier set by hand; Meta's
// webhooks and the periodic refresh set it too).
func UpdatePortfolio(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64, in PortfolioInput) (PortfolioView, error) {
	var view PortfolioView
	err := audit.Change(ctx, db, by, "portfolio.update", "portfolio", func(q *queries.Queries) (int64, any, any, error) {
		before, err := GetPortfolio(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		if err := in.check(); err != nil {
			return 0, nil, nil, err
		}
		if !in.TierSet {
			in.Tier = before.TierLimit
		}
		out, err := q.UpdatePortfolio(ctx, queries.UpdatePortfolioParams{AccountID: by.AccountID, ID: id, Name: in.Name,
			BusinessID: in.BusinessID, TierLimit: in.Tier})
		view = ViewPortfolio(out)
		return id, ViewPortfolio(before), view, err
	})
	return view, err
}

// View never holds the token or the app secret: only whether they are set.
type View struct {
	ID             int64  `json:"id"`
	PortfolioID    int64  `json:"portfolio_id"`
	Name           string `json:"name"`
	PhoneNumberID  string `json:"phone_number_id"`
	WabaID         string `json:"waba_id"`
	DisplayNumber  string `json:"display_number"`
	ThroughputMPS  int32  `json:"throughput_mps"` // the lower of Meta's level and the cap
	MetaMPS        int32  `json:"meta_mps"`       // Meta's throughput level: 80, or 1,000 on HIGH
	ThroughputCap  *int32 `json:"throughput_cap"` // the owner's cap; null: none
	QualityRating  string `json:"quality_rating"`
	Status         string `json:"status"`
	StatusReason   string `json:"status_reason"`
	AccessTokenSet bool   `json:"access_token_set"`
	AppSecretSet   bool   `json:"app_secret_set"`
	// MarketingMessages is whether the number's marketing templates go through Meta's Marketing
	// Messages API (MM Lite): off, on, or refused (Meta refused the number for it; they go through
	// Cloud API until it is turned on again), with Meta's answer and when it last changed.
	MarketingMessages     string     `json:"marketing_messages"`
	MarketingMessagesNote string     `json:"marketing_messages_note,omitempty"`
	MarketingMessagesAt   *time.Time `json:"marketing_messages_at"`
	CreatedAt             time.Time  `json:"created_at"`
	UpdatedAt             time.Time  `json:"updated_at"`
}

// ViewOf is a stored channel's view.
func ViewOf(c queries.Channel) View {
	return View{c.ID, c.PortfolioID, c.Name, c.PhoneNumberID, c.WabaID, c.DisplayNumber, c.ThroughputMps, c.MetaMps, c.ThroughputCap,
		c.QualityRating, c.Status, c.StatusReason, len(c.AccessTokenEnc) > 0, len(c.AppSecretEnc) > 0, c.MarketingMessages,
		c.MarketingMessagesNote, c.MarketingMessagesAt, c.CreatedAt, c.UpdatedAt}
}

// Errors of registering a number that are not the person's input.
var (
	// ErrNotVerified is a number Meta did not confirm, and one registered already: the same
	// error, so nobody learns which numbers other accounts have.
	ErrNotVerified = errors.New("Meta did not confirm that this access_token owns phone_number_id in waba_id, or the number is registered already")
	// ErrUnavailable is Meta unreachable, or failing for now: worth a retry.
	ErrUnavailable = errors.New("Meta could not verify the channel just now; try again")
	// ErrNoMeta is a server without a Cloud API client.
	ErrNoMeta = errors.New("this server has no Cloud API client to verify channels with")
)

// Registrar registers numbers: it asks Meta, and seals secrets.
type Registrar struct {
	DB      *pgxpool.Pool
	Meta    *whatsapp.Client
	Secrets *secrets.Box
}

// Input is a number to register.
type Input struct {
	PortfolioID   int64  `json:"portfolio_id"`
	Name          string `json:"name"`
	PhoneNumberID string `json:"phone_number_id"`
	WabaID        string `json:"waba_id"`
	DisplayNumber string `json:"display_number"`
	AccessToken   string `json:"access_token"`
	AppSecret     string `json:"app_secret"`
	ThroughputMPS int32  `json:"throughput_mps"` // a cap; 0: none, the number sends at Meta's level
}

func metaID(field, v string) error {
	if v == "" || len(v) > 32 || strings.Trim(v, "0123456789") != "" {
		return invalid.Field(field, "must be Meta's numeric id")
	}
	return nil
}

func checkSecret(field, v string) error {
	if len(v) < 8 || len(v) > 1024 || strings.ContainsAny(v, " \t\r\n") {
		return invalid.Field(field, "must be 8 to 1024 characters without spaces")
	}
	return nil
}

func (in *Input) check() error {
	in.Name = strings.TrimSpace(in.Name)
	for _, err := range []error{metaID("phone_number_id", in.PhoneNumberID), metaID("waba_id", in.WabaID),
		checkSecret("access_token", in.AccessToken), checkSecret("app_secret", in.AppSecret)} {
		if err != nil {
			return err
		}
	}
	switch {
	case len(in.DisplayNumber) > 32:
		return invalid.Field("display_number", "is at most 32 characters (Meta's is stored)")
	case in.ThroughputMPS < 0 || in.ThroughputMPS > 1000:
		return invalid.Field("throughput_mps", "a cap is 1 to 1000 messages a second (Meta: 80, or 1,000 on its high level)")
	case len(in.Name) > 200:
		return invalid.Field("name", "is at most 200 characters")
	}
	return nil
}

// verify asks Meta, with the token given, for the number and for the WABA's numbers: the token
// must see both, and the number must be in the WABA. What Meta answers is what is stored.
func (g Registrar) verify(ctx context.Context, token, phoneNumberID, waba string) (whatsapp.PhoneNumber, string, error) {
	if g.Meta == nil {
		return whatsapp.PhoneNumber{}, "", ErrNoMeta
	}
	info, err := g.Meta.GetPhoneNumber(ctx, token, phoneNumberID)
	if err != nil {
		return info, "", verificationError(err)
	}
	numbers, err := g.Meta.WABANumbers(ctx, token, waba)
	if err != nil {
		return info, "", verificationError(err)
	}
	display, err := phone.Display(info.DisplayPhoneNumber)
	if err != nil || info.ID != phoneNumberID ||
		!slices.ContainsFunc(numbers, func(n whatsapp.PhoneNumber) bool { return n.ID == phoneNumberID }) {
		return info, "", ErrNotVerified
	}
	return info, display, nil
}

// verificationError is Meta's refusal as the caller sees it: a passing fault (Meta unreachable,
// its 5xx, a rate limit: by the error table every send uses) is worth a retry; anything else is
// one answer, whatever Meta said.
func verificationError(err error) error {
	switch whatsapp.Classify(err).Class {
	case whatsapp.RetryNow, whatsapp.RetryLater, whatsapp.RateLimited, whatsapp.Ambiguous:
		return ErrUnavailable
	}
	return ErrNotVerified
}

// qualityOf is Meta's rating as a channel stores it.
func qualityOf(info whatsapp.PhoneNumber) string {
	if slices.Contains([]string{"GREEN", "YELLOW", "RED"}, info.QualityRating) {
		return info.QualityRating
	}
	return "UNKNOWN"
}

// Create registers a number of by's account, once Meta confirms the token owns it.
func (g Registrar) Create(ctx context.Context, by audit.Actor, in Input) (View, error) {
	if err := in.check(); err != nil {
		return View{}, err
	}
	portfolio, err := GetPortfolio(ctx, queries.New(g.DB), by.AccountID, in.PortfolioID)
	if err != nil {
		return View{}, err
	}
	info, display, err := g.verify(ctx, in.AccessToken, in.PhoneNumberID, in.WabaID)
	if err != nil {
		return View{}, err
	}
	var view View
	err = audit.Change(ctx, g.DB, by, "channel.create", "channel", func(q *queries.Queries) (int64, any, any, error) {
		out, err := q.CreateChannel(ctx, queries.CreateChannelParams{AccountID: by.AccountID, PortfolioID: in.PortfolioID,
			Name: in.Name, PhoneNumberID: in.PhoneNumberID, WabaID: in.WabaID, DisplayNumber: display,
			AccessTokenEnc: g.Secrets.Seal(in.AccessToken, secrets.ChannelToken(in.PhoneNumberID)),
			AppSecretEnc:   g.Secrets.Seal(in.AppSecret, secrets.ChannelAppSecret(in.PhoneNumberID)),
			MetaMps:        MetaMPS(info.Throughput.Level, 80), ThroughputCap: capOf(in.ThroughputMPS), QualityRating: qualityOf(info)})
		if pgCode(err) == "23505" {
			return 0, nil, nil, ErrNotVerified
		}
		if err != nil {
			return 0, nil, nil, err
		}
		view = ViewOf(out)
		return out.ID, nil, view, lowerTier(ctx, q, portfolio, info.MessagingLimit)
	})
	return view, err
}

// MetaMPS is the messages a second of Meta's throughput level (STANDARD 80, HIGH 1,000), or
// otherwise when Meta names none.
func MetaMPS(level string, otherwise int32) int32 {
	switch level {
	case "HIGH":
		return 1000
	case "STANDARD":
		return 80
	}
	return otherwise
}

func capOf(mps int32) *int32 {
	if mps == 0 {
		return nil
	}
	return &mps
}

// lowerTier brings a portfolio's tier down to the messaging limit Meta reports for a new number,
// never up: a tier too high would let Dripcast exceed Meta's limit, one too low only holds sends
// back until the periodic refresh reads Meta's again.
func lowerTier(ctx context.Context, q *queries.Queries, p queries.Portfolio, limit string) error {
	tier, ok := policy.TierLimit(limit)
	if !ok || tier == nil || (p.TierLimit != nil && *p.TierLimit <= *tier) {
		return nil
	}
	return q.SetPortfolioTier(ctx, queries.SetPortfolioTierParams{ID: p.ID, TierLimit: tier})
}

// Get is a channel of the account.
func Get(ctx context.Context, q *queries.Queries, account, id int64) (queries.Channel, error) {
	c, err := q.GetChannel(ctx, queries.GetChannelParams{AccountID: account, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return c, invalid.NotFound("channel")
	}
	return c, err
}

// Patch changes what may change by hand: name, throughput, quality, status, secrets, the
// Marketing Messages API (true: on, also after Meta refused it; false: off) (nil: unchanged).
type Patch struct {
	Name              *string `json:"name"`
	ThroughputMPS     *int32  `json:"throughput_mps"`
	QualityRating     *string `json:"quality_rating"`
	Status            *string `json:"status"`
	AccessToken       *string `json:"access_token"`
	AppSecret         *string `json:"app_secret"`
	MarketingMessages *bool   `json:"marketing_messages"`
}

func (in Patch) params(box *secrets.Box, phoneNumberID string) (queries.UpdateChannelParams, error) {
	p := queries.UpdateChannelParams{Name: in.Name, ThroughputCap: in.ThroughputMPS, QualityRating: in.QualityRating, Status: in.Status}
	if in.MarketingMessages != nil {
		p.MarketingMessages = new("off")
		if *in.MarketingMessages {
			p.MarketingMessages = new("on")
		}
	}
	switch {
	case in.ThroughputMPS != nil && (*in.ThroughputMPS < 1 || *in.ThroughputMPS > 1000):
		return p, invalid.Field("throughput_mps", "must be 1 to 1000")
	case in.QualityRating != nil && !slices.Contains([]string{"GREEN", "YELLOW", "RED", "UNKNOWN"}, *in.QualityRating):
		return p, invalid.Field("quality_rating", "must be GREEN, YELLOW, RED or UNKNOWN")
	case in.Status != nil && *in.Status != "active" && *in.Status != "paused":
		return p, invalid.Field("status", "must be active or paused")
	case in.Name != nil && len(*in.Name) > 200:
		return p, invalid.Field("name", "is at most 200 characters")
	}
	if in.Status != nil {
		reason := "set by hand"
		p.StatusReason = &reason
	}
	if in.AccessToken != nil {
		if err := checkSecret("access_token", *in.AccessToken); err != nil {
			return p, err
		}
		p.AccessTokenEnc = box.Seal(*in.AccessToken, secrets.ChannelToken(phoneNumberID))
	}
	if in.AppSecret != nil {
		if err := checkSecret("app_secret", *in.AppSecret); err != nil {
			return p, err
		}
		p.AppSecretEnc = box.Seal(*in.AppSecret, secrets.ChannelAppSecret(phoneNumberID))
	}
	return p, nil
}

// Update changes a channel of by's account. A new token must own the number too; Meta's display
// number comes with it.
func (g Registrar) Update(ctx context.Context, by audit.Actor, id int64, in Patch) (View, error) {
	before, err := Get(ctx, queries.New(g.DB), by.AccountID, id)
	if err != nil {
		return View{}, err
	}
	params, err := in.params(g.Secrets, before.PhoneNumberID)
	if err != nil {
		return View{}, err
	}
	params.AccountID, params.ID = by.AccountID, id
	if in.AccessToken != nil {
		_, display, err := g.verify(ctx, *in.AccessToken, before.PhoneNumberID, before.WabaID)
		if err != nil {
			return View{}, err
		}
		params.DisplayNumber = &display
	}
	var view View
	err = audit.Change(ctx, g.DB, by, "channel.update", "channel", func(q *queries.Queries) (int64, any, any, error) {
		out, err := q.UpdateChannel(ctx, params)
		view = ViewOf(out)
		return id, ViewOf(before), view, err
	})
	return view, err
}

// Delete removes a channel no campaign uses (one that is used can be paused instead).
func Delete(ctx context.Context, db *pgxpool.Pool, by audit.Actor, id int64) error {
	return audit.Change(ctx, db, by, "channel.delete", "channel", func(q *queries.Queries) (int64, any, any, error) {
		before, err := Get(ctx, q, by.AccountID, id)
		if err != nil {
			return 0, nil, nil, err
		}
		_, err = q.DeleteChannel(ctx, queries.DeleteChannelParams{AccountID: by.AccountID, ID: id})
		if code := pgCode(err); code == "23503" || code == "23505" {
			return 0, nil, nil, invalid.Conflict("the channel is used by a broadcast or a sequence; pause it instead")
		}
		return id, ViewOf(before), nil, err
	})
}

// pgCode is the SQLSTATE of an error Postgres answered, "" for any other.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
