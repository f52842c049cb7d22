package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/dripcast/dripcast/channels"
	"github.com/dripcast/dripcast/queries"
)

// tier reads 250, 2000, 10000, 100000 or "unlimited".
type tier struct{ limit *int32 }

func (t *tier) UnmarshalJSON(b []byte) error {
	if string(b) == `"unlimited"` {
		t.limit = nil
		return nil
	}
	var n int32
	if err := json.Unmarshal(b, &n); err != nil || !slices.Contains(channels.Tiers, n) {
		return errValidation("tier", `tier must be 250, 2000, 10000, 100000 or "unlimited"`)
	}
	t.limit = &n
	return nil
}

type portfolioInput struct {
	Name       string `json:"name"`
	BusinessID string `json:"business_id"`
	Tier       *tier  `json:"tier"`
}

func (in portfolioInput) domain() channels.PortfolioInput {
	out := channels.PortfolioInput{Name: in.Name, BusinessID: in.BusinessID, TierSet: in.Tier != nil}
	if in.Tier != nil {
		out.Tier = in.Tier.limit
	}
	return out
}

func (s *Server) createPortfolio(w http.ResponseWriter, r *http.Request) error {
	var in portfolioInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := channels.CreatePortfolio(r.Context(), s.db, caller(r.Context()).actor(), in.domain())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) getPortfolio(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "portfolio")
	if err != nil {
		return err
	}
	p, err := channels.GetPortfolio(r.Context(), s.q, caller(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channels.ViewPortfolio(p))
	return nil
}

func (s *Server) listPortfolios(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Portfolio, error) {
		return s.q.ListPortfolios(r.Context(), queries.ListPortfoliosParams{AccountID: account, After: after, Lim: lim})
	}, infallible(channels.ViewPortfolio), func(v channels.PortfolioView) int64 { return v.ID })
}

// updatePortfolio replaces name, business id and tier (kept when not given).
func (s *Server) updatePortfolio(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "portfolio")
	if err != nil {
		return err
	}
	var in portfolioInput
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := channels.UpdatePortfolio(r.Context(), s.db, caller(r.Context()).actor(), id, in.domain())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// registrar registers numbers with this server's Cloud API client and secrets.
func (s *Server) registrar() channels.Registrar {
	return channels.Registrar{DB: s.db, Meta: s.opts.Meta, Secrets: s.opts.Secrets}
}

// channelError is a registration's refusal as the API answers it.
func channelError(err error) error {
	switch {
	case errors.Is(err, channels.ErrNotVerified):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeNotVerified, Message: err.Error()}
	case errors.Is(err, channels.ErrUnavailable), errors.Is(err, channels.ErrNoMeta):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error()}
	}
	return err
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request) error {
	var in channels.Input
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := s.registrar().Create(r.Context(), caller(r.Context()).actor(), in)
	if err != nil {
		return channelError(err)
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "channel")
	if err != nil {
		return err
	}
	c, err := channels.Get(r.Context(), s.q, caller(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, channels.ViewOf(c))
	return nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, func(account, after int64, lim int32) ([]queries.Channel, error) {
		return s.q.ListChannels(r.Context(), queries.ListChannelsParams{AccountID: account, After: after, Lim: lim})
	}, infallible(channels.ViewOf), func(v channels.View) int64 { return v.ID })
}

func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "channel")
	if err != nil {
		return err
	}
	var in channels.Patch
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &in); err != nil {
		return err
	}
	view, err := s.registrar().Update(r.Context(), caller(r.Context()).actor(), id, in)
	if err != nil {
		return channelError(err)
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "channel")
	if err != nil {
		return err
	}
	if err := channels.Delete(r.Context(), s.db, caller(r.Context()).actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
