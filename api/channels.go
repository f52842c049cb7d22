package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dripcast/dripcast/phone"
	"github.com/dripcast/dripcast/policy"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/whatsapp"
)

// Meta's messaging tiers: unique recipients per moving 24 h. Unlimited is stored as NULL.
var tiers = []int32{250, 2000, 10000, 100000}

// tier reads 250, 2000, 10000, 100000 or "unlimited".
type tier struct{ limit *int32 }

func (t *tier) UnmarshalJSON(b []byte) error {
	if string(b) == `"unlimited"` {
		t.limit = nil
		return nil
	}
	var n int32
	if err := json.Unmarshal(b, &n); err != nil || !slices.Contains(tiers, n) {
		return errValidation("tier", `tier must be 250, 2000, 10000, 100000 or "unlimited"`)
	}
	t.limit = &n
	return nil
}

func tierView(limit *int32) any {
	if limit == nil {
		return "unlimited"
	}
	return *limit
}

type portfolioView struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	BusinessID string    `json:"business_id"`
	Tier       any       `json:"tier"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func viewPortfolio(p queries.Portfolio) portfolioView {
	return portfolioView{p.ID, p.Name, p.BusinessID, tierView(p.TierLimit), p.CreatedAt, p.UpdatedAt}
}

type portfolioInput struct {
	Name       string `json:"name"`
	BusinessID string `json:"business_id"`
	Tier       *tier  `json:"tier"`
}

func (in *portfolioInput) check() (*int32, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return nil, errValidation("name", "name is required, at most 200 characters")
	}
	if len(in.BusinessID) > 64 {
		return nil, errValidation("business_id", "business_id is at most 64 characters")
	}
	if in.Tier == nil {
		return &tiers[0], nil // a new portfolio starts at Meta's lowest tier
	}
	return in.Tier.limit, nil
}

func (s *Server) createPortfolio(w http.ResponseWriter, r *http.Request) error {
	var in portfolioInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	limit, err := in.check()
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusCreated, "portfolio.create", "portfolio", func(q *queries.Queries) (change, error) {
		out, err := q.CreatePortfolio(ctx, queries.CreatePortfolioParams{AccountID: p.AccountID, Name: in.Name,
			BusinessID: in.BusinessID, TierLimit: limit})
		return change{out.ID, nil, viewPortfolio(out)}, err
	})
}

func (s *Server) loadPortfolio(r *http.Request) (queries.Portfolio, error) {
	id, err := pathID(r, "portfolio")
	if err != nil {
		return queries.Portfolio{}, err
	}
	p, err := s.q.GetPortfolio(r.Context(), queries.GetPortfolioParams{AccountID: caller(r.Context()).AccountID, ID: id})
	return p, notFoundAs(err, "portfolio")
}

func (s *Server) getPortfolio(w http.ResponseWriter, r *http.Request) error {
	p, err := s.loadPortfolio(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewPortfolio(p))
	return nil
}

func (s *Server) listPortfolios(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Portfolio, error) {
		return s.q.ListPortfolios(r.Context(), queries.ListPortfoliosParams{AccountID: account, After: after, Lim: lim})
	}, infallible(viewPortfolio), func(v portfolioView) int64 { return v.ID })
}

// updatePortfolio replaces name, business id and tier (a tier set by hand; Meta's webhooks and
// the periodic refresh set it too).
func (s *Server) updatePortfolio(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadPortfolio(r)
	if err != nil {
		return err
	}
	var in portfolioInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	limit, err := in.check()
	if err != nil {
		return err
	}
	if in.Tier == nil {
		limit = before.TierLimit
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusOK, "portfolio.update", "portfolio", func(q *queries.Queries) (change, error) {
		out, err := q.UpdatePortfolio(ctx, queries.UpdatePortfolioParams{AccountID: p.AccountID, ID: before.ID,
			Name: in.Name, BusinessID: in.BusinessID, TierLimit: limit})
		return change{out.ID, viewPortfolio(before), viewPortfolio(out)}, err
	})
}

// channelView never holds the token or the app secret: only whether they are set.
type channelView struct {
	ID             int64     `json:"id"`
	PortfolioID    int64     `json:"portfolio_id"`
	Name           string    `json:"name"`
	PhoneNumberID  string    `json:"phone_number_id"`
	WabaID         string    `json:"waba_id"`
	DisplayNumber  string    `json:"display_number"`
	ThroughputMPS  int32     `json:"throughput_mps"`
	QualityRating  string    `json:"quality_rating"`
	Status         string    `json:"status"`
	StatusReason   string    `json:"status_reason"`
	AccessTokenSet bool      `json:"access_token_set"`
	AppSecretSet   bool      `json:"app_secret_set"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func viewChannel(c queries.Channel) channelView {
	return channelView{c.ID, c.PortfolioID, c.Name, c.PhoneNumberID, c.WabaID, c.DisplayNumber, c.ThroughputMps,
		c.QualityRating, c.Status, c.StatusReason, len(c.AccessTokenEnc) > 0, len(c.AppSecretEnc) > 0, c.CreatedAt, c.UpdatedAt}
}

type channelInput struct {
	PortfolioID   int64  `json:"portfolio_id"`
	Name          string `json:"name"`
	PhoneNumberID string `json:"phone_number_id"`
	WabaID        string `json:"waba_id"`
	DisplayNumber string `json:"display_number"`
	AccessToken   string `json:"access_token"`
	AppSecret     string `json:"app_secret"`
	ThroughputMPS int32  `json:"throughput_mps"`
}

func metaID(field, v string) error {
	if v == "" || len(v) > 32 || strings.Trim(v, "0123456789") != "" {
		return errValidation(field, "%s must be Meta's numeric id", field)
	}
	return nil
}

func checkSecret(field, v string) error {
	if len(v) < 8 || len(v) > 1024 || strings.ContainsAny(v, " \t\r\n") {
		return errValidation(field, "%s must be 8 to 1024 characters without spaces", field)
	}
	return nil
}

// errNotVerified answers a channel Meta did not confirm, and a number registered already: the
// same answer, so nobody learns which numbers other accounts have.
var errNotVerified = &Error{Status: http.StatusUnprocessableEntity, Code: CodeNotVerified,
	Message: "Meta did not confirm that this access_token owns phone_number_id in waba_id, or the number is registered already"}

// verifyNumber asks Meta, with the token given, for the number and for the WABA's numbers: the
// token must see both, and the number must be in the WABA. What Meta answers is what is stored.
func (s *Server) verifyNumber(ctx context.Context, token, phoneNumberID, waba string) (whatsapp.PhoneNumber, phone.Number, error) {
	if s.opts.Meta == nil {
		return whatsapp.PhoneNumber{}, phone.Number{}, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "this server has no Cloud API client to verify channels with"}
	}
	info, err := s.opts.Meta.GetPhoneNumber(ctx, token, phoneNumberID)
	if err != nil {
		return info, phone.Number{}, verificationError(err)
	}
	numbers, err := s.opts.Meta.WABANumbers(ctx, token, waba)
	if err != nil {
		return info, phone.Number{}, verificationError(err)
	}
	display, err := phone.Normalize(info.DisplayPhoneNumber, "")
	if err != nil || info.ID != phoneNumberID ||
		!slices.ContainsFunc(numbers, func(n whatsapp.PhoneNumber) bool { return n.ID == phoneNumberID }) {
		return info, phone.Number{}, errNotVerified
	}
	return info, display, nil
}

// verificationError is Meta's refusal as the caller sees it: a passing fault (Meta unreachable,
// its 5xx, a rate limit: by the error table every send uses) is worth a retry; anything else is
// one answer, whatever Meta said.
func verificationError(err error) error {
	switch whatsapp.Classify(err).Class {
	case whatsapp.RetryNow, whatsapp.RetryLater, whatsapp.RateLimited, whatsapp.Ambiguous:
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "Meta could not verify the channel just now; try again"}
	}
	return errNotVerified
}

// qualityOf is Meta's rating as a channel stores it.
func qualityOf(info whatsapp.PhoneNumber) string {
	if slices.Contains([]string{"GREEN", "YELLOW", "RED"}, info.QualityRating) {
		return info.QualityRating
	}
	return "UNKNOWN"
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) error {
	var in channelInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.ThroughputMPS == 0 {
		in.ThroughputMPS = 80
	}
	switch {
	case metaID("phone_number_id", in.PhoneNumberID) != nil:
		return metaID("phone_number_id", in.PhoneNumberID)
	case metaID("waba_id", in.WabaID) != nil:
		return metaID("waba_id", in.WabaID)
	case len(in.DisplayNumber) > 32:
		return errValidation("display_number", "display_number is at most 32 characters (Meta's is stored)")
	case checkSecret("access_token", in.AccessToken) != nil:
		return checkSecret("access_token", in.AccessToken)
	case checkSecret("app_secret", in.AppSecret) != nil:
		return checkSecret("app_secret", in.AppSecret)
	case in.ThroughputMPS < 1 || in.ThroughputMPS > 1000:
		return errValidation("throughput_mps", "throughput_mps must be 1 to 1000 (Meta: 80 by default, up to 1,000)")
	case len(in.Name) > 200:
		return errValidation("name", "name is at most 200 characters")
	}
	ctx, p := r.Context(), caller(r.Context())
	portfolio, err := s.q.GetPortfolio(ctx, queries.GetPortfolioParams{AccountID: p.AccountID, ID: in.PortfolioID})
	if err != nil {
		return notFoundAs(err, "portfolio")
	}
	info, display, err := s.verifyNumber(ctx, in.AccessToken, in.PhoneNumberID, in.WabaID)
	if err != nil {
		return err
	}
	return s.mutate(w, r, http.StatusCreated, "channel.create", "channel", func(q *queries.Queries) (change, error) {
		out, err := q.CreateChannel(ctx, queries.CreateChannelParams{AccountID: p.AccountID, PortfolioID: in.PortfolioID,
			Name: strings.TrimSpace(in.Name), PhoneNumberID: in.PhoneNumberID, WabaID: in.WabaID, DisplayNumber: display.E164,
			AccessTokenEnc: s.opts.Secrets.Seal(in.AccessToken, secrets.ChannelToken(in.PhoneNumberID)),
			AppSecretEnc:   s.opts.Secrets.Seal(in.AppSecret, secrets.ChannelAppSecret(in.PhoneNumberID)),
			ThroughputMps:  in.ThroughputMPS, QualityRating: qualityOf(info)})
		if isUniqueViolation(err) {
			return change{}, errNotVerified
		}
		if err != nil {
			return change{}, err
		}
		return change{out.ID, nil, viewChannel(out)}, lowerTier(ctx, q, portfolio, info.MessagingLimit)
	})
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

func (s *Server) loadChannel(r *http.Request) (queries.Channel, error) {
	id, err := pathID(r, "channel")
	if err != nil {
		return queries.Channel{}, err
	}
	c, err := s.q.GetChannel(r.Context(), queries.GetChannelParams{AccountID: caller(r.Context()).AccountID, ID: id})
	return c, notFoundAs(err, "channel")
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) error {
	c, err := s.loadChannel(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewChannel(c))
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Channel, error) {
		return s.q.ListChannels(r.Context(), queries.ListChannelsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(viewChannel), func(v channelView) int64 { return v.ID })
}

// channelPatch changes what may change by hand: name, throughput, quality, status, secrets.
type channelPatch struct {
	Name          *string `json:"name"`
	ThroughputMPS *int32  `json:"throughput_mps"`
	QualityRating *string `json:"quality_rating"`
	Status        *string `json:"status"`
	AccessToken   *string `json:"access_token"`
	AppSecret     *string `json:"app_secret"`
}

func (in channelPatch) params(box *secrets.Box, phoneNumberID string) (queries.UpdateChannelParams, error) {
	p := queries.UpdateChannelParams{Name: in.Name, ThroughputMps: in.ThroughputMPS, QualityRating: in.QualityRating, Status: in.Status}
	switch {
	case in.ThroughputMPS != nil && (*in.ThroughputMPS < 1 || *in.ThroughputMPS > 1000):
		return p, errValidation("throughput_mps", "throughput_mps must be 1 to 1000")
	case in.QualityRating != nil && !slices.Contains([]string{"GREEN", "YELLOW", "RED", "UNKNOWN"}, *in.QualityRating):
		return p, errValidation("quality_rating", "quality_rating must be GREEN, YELLOW, RED or UNKNOWN")
	case in.Status != nil && *in.Status != "active" && *in.Status != "paused":
		return p, errValidation("status", "status must be active or paused")
	case in.Name != nil && len(*in.Name) > 200:
		return p, errValidation("name", "name is at most 200 characters")
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

func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadChannel(r)
	if err != nil {
		return err
	}
	var in channelPatch
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	params, err := in.params(s.opts.Secrets, before.PhoneNumberID)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	params.AccountID, params.ID = p.AccountID, before.ID
	if in.AccessToken != nil {
		// A new token must own the number too; Meta's display number comes with it.
		_, display, err := s.verifyNumber(ctx, *in.AccessToken, before.PhoneNumberID, before.WabaID)
		if err != nil {
			return err
		}
		params.DisplayNumber = &display.E164
	}
	return s.mutate(w, r, http.StatusOK, "channel.update", "channel", func(q *queries.Queries) (change, error) {
		out, err := q.UpdateChannel(ctx, params)
		return change{out.ID, viewChannel(before), viewChannel(out)}, err
	})
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	before, err := s.loadChannel(r)
	if err != nil {
		return err
	}
	ctx, p := r.Context(), caller(r.Context())
	return s.mutate(w, r, http.StatusNoContent, "channel.delete", "channel", func(q *queries.Queries) (change, error) {
		_, err := q.DeleteChannel(ctx, queries.DeleteChannelParams{AccountID: p.AccountID, ID: before.ID})
		return change{before.ID, viewChannel(before), nil}, conflictAs(err, "the channel is used by a broadcast or a sequence; pause it instead")
	})
}
