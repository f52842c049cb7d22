package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/channels"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/media"
	"github.com/dripcast/dripcast/queries"
)

// The numbers page: portfolios with their tier, the numbers in each, and the forms that add them.

func (c *Console) channelsPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showChannels(w, r, v, http.StatusOK, &form{Values: url.Values{"tier": {"250"}}, Errors: map[string]string{}})
}

func (c *Console) showChannels(w http.ResponseWriter, r *http.Request, v *visit, status int, portfolio *form) error {
	ctx, account := r.Context(), v.sess.AccountID
	ports, err := c.q.ListPortfolios(ctx, queries.ListPortfoliosParams{AccountID: account, Lim: listLimit})
	if err != nil {
		return err
	}
	chans, err := c.q.ListChannels(ctx, queries.ListChannelsParams{AccountID: account, Lim: listLimit})
	if err != nil {
		return err
	}
	type group struct {
		P        channels.PortfolioView
		Channels []channels.View
	}
	groups := make([]group, len(ports))
	for i, p := range ports {
		groups[i].P = channels.ViewPortfolio(p)
		for _, ch := range chans {
			if ch.PortfolioID == p.ID {
				groups[i].Channels = append(groups[i].Channels, channels.ViewOf(ch))
			}
		}
	}
	c.render(w, r, v, status, "channels", "Numbers", map[string]any{"Groups": groups, "Form": portfolio, "Tiers": tierChoices(),
		"Saved": r.URL.Query().Get("saved")})
	return nil
}

// tierChoices are Meta's tiers as the forms offer them.
func tierChoices() []string {
	out := make([]string, 0, len(channels.Tiers)+1)
	for _, t := range channels.Tiers {
		out = append(out, strconv.Itoa(int(t)))
	}
	return append(out, "unlimited")
}

// readPortfolio reads the portfolio form; the tier is one of tierChoices.
func readPortfolio(f *form) channels.PortfolioInput {
	in := channels.PortfolioInput{Name: f.Get("name"), BusinessID: strings.TrimSpace(f.Get("business_id")), TierSet: true}
	if t := f.Get("tier"); t != "unlimited" {
		n, err := strconv.ParseInt(t, 10, 32)
		if err != nil {
			n = -1 // refused by the rules, beside the field
		}
		limit := int32(n)
		in.Tier = &limit
	}
	return in
}

func (c *Console) createPortfolio(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	_, err := channels.CreatePortfolio(r.Context(), c.db, v.sess.Actor(v.ip), readPortfolio(f))
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showChannels(w, r, v, http.StatusBadRequest, f)
	}
	http.Redirect(w, r, "/channels?saved=portfolio", http.StatusSeeOther)
	return nil
}

func (c *Console) updatePortfolio(w http.ResponseWriter, r *http.Request, v *visit) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	f := newForm(r)
	_, err = channels.UpdatePortfolio(r.Context(), c.db, v.sess.Actor(v.ip), id, readPortfolio(f))
	if e, ok := invalid.As(err); ok && e.Code == invalid.Code {
		return errPage(http.StatusBadRequest, e.Error())
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/channels?saved=portfolio", http.StatusSeeOther)
	return nil
}

// registrar registers numbers with the console's Cloud API client and secrets.
func (c *Console) registrar() channels.Registrar {
	return channels.Registrar{DB: c.db, Meta: c.opts.Meta, Secrets: c.opts.Secrets}
}

// takeChannel files a registration's error: input beside its field, Meta's refusal above the
// form.
func takeChannel(f *form, err error) error {
	if errors.Is(err, channels.ErrNotVerified) || errors.Is(err, channels.ErrUnavailable) || errors.Is(err, channels.ErrNoMeta) {
		f.Error = err.Error()
		return nil
	}
	return f.take(err)
}

func (c *Console) newChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.showNewChannel(w, r, v, http.StatusOK, &form{Values: url.Values{}, Errors: map[string]string{}})
}

func (c *Console) showNewChannel(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form) error {
	ports, err := c.q.ListPortfolios(r.Context(), queries.ListPortfoliosParams{AccountID: v.sess.AccountID, Lim: listLimit})
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "channel-new", "Add a number", map[string]any{"Form": f, "Portfolios": ports})
	return nil
}

// createChannel registers a number once Meta confirms the token owns it.
func (c *Console) createChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	in := channels.Input{Name: f.Get("name"), PhoneNumberID: strings.TrimSpace(f.Get("phone_number_id")),
		WabaID: strings.TrimSpace(f.Get("waba_id")), AccessToken: strings.TrimSpace(f.Get("access_token")),
		AppSecret: strings.TrimSpace(f.Get("app_secret"))}
	in.PortfolioID = formID(f, "portfolio_id", "portfolio_id", "choose a portfolio")
	if text := strings.TrimSpace(f.Get("throughput_mps")); text != "" { // empty: no cap
		if mps, err := strconv.ParseInt(text, 10, 32); err == nil {
			in.ThroughputMPS = int32(mps)
		} else {
			f.Errors["throughput_mps"] = "give a cap in messages a second, or leave it empty"
		}
	}
	var view channels.View
	if f.ok() {
		var err error
		view, err = c.registrar().Create(r.Context(), v.sess.Actor(v.ip), in)
		if err = takeChannel(f, err); err != nil {
			return err
		}
	}
	if !f.ok() {
		return c.showNewChannel(w, r, v, http.StatusBadRequest, f)
	}
	http.Redirect(w, r, fmt.Sprintf("/channels/%d?saved=added", view.ID), http.StatusSeeOther)
	return nil
}

func (c *Console) channelPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := rowOf(c, r, v, channels.Get)
	if err != nil {
		return err
	}
	return c.showChannel(w, r, v, http.StatusOK, ch, channelForm(ch), "")
}

// channelForm is the edit form as stored: the cap empty when there is none.
func channelForm(ch queries.Channel) *form {
	f := &form{Values: url.Values{"name": {ch.Name}, "status": {ch.Status}}, Errors: map[string]string{}}
	if ch.MarketingMessages == "on" {
		f.Values.Set("marketing_messages", "on")
	}
	if ch.ThroughputCap != nil {
		f.Values.Set("throughput_mps", strconv.Itoa(int(*ch.ThroughputCap)))
	}
	return f
}

// showChannel shows a number with its edit form f and its files for media headers (mediaErr:
// why an upload was refused).
func (c *Console) showChannel(w http.ResponseWriter, r *http.Request, v *visit, status int, ch queries.Channel, f *form, mediaErr string) error {
	p, err := channels.GetPortfolio(r.Context(), c.q, v.sess.AccountID, ch.PortfolioID)
	if err != nil {
		return err
	}
	files, err := media.List(r.Context(), c.q, v.sess.AccountID, ch.ID, 0, maxMediaShown)
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "channel", ch.DisplayNumber, map[string]any{"C": channels.ViewOf(ch), "P": channels.ViewPortfolio(p),
		"Form": f, "Saved": r.URL.Query().Get("saved"), "Media": files, "MediaError": mediaErr})
	return nil
}

// maxMediaShown bounds the uploads a number's page lists (the API pages through all).
const maxMediaShown = 200

// uploadMedia uploads a file for media headers to the number at Meta, checked first as the API's
// POST /v1/channels/{id}/media checks it (media.Upload), and lists it on the number's page.
func (c *Console) uploadMedia(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := rowOf(c, r, v, channels.Get)
	if err != nil {
		return err
	}
	_, file, err := c.upload(w, r, v, media.MaxBody)
	if err != nil {
		return err
	}
	_, err = media.Upload(r.Context(), c.db, c.opts.Meta, c.opts.Secrets, v.sess.Actor(v.ip), ch.ID,
		media.File{Name: file.FileName(), Type: file.Header.Get("Content-Type"), Body: file})
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return c.showChannel(w, r, v, http.StatusRequestEntityTooLarge, ch, channelForm(ch), "The file is larger than Meta takes (100 MB for a document, less for images and videos).")
	}
	if e, ok := invalid.As(err); ok {
		return c.showChannel(w, r, v, http.StatusBadRequest, ch, channelForm(ch), e.Message)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/channels/%d?saved=media#media", ch.ID), http.StatusSeeOther)
	return nil
}

// updateChannel saves the edit form: name, throughput, paused or active, and new secrets when
// typed (a new token is checked with Meta first).
func (c *Console) updateChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := rowOf(c, r, v, channels.Get)
	if err != nil {
		return err
	}
	f := newForm(r)
	patch := channels.Patch{Name: ptr(strings.TrimSpace(f.Get("name"))), Status: ptr(f.Get("status"))}
	// The cap: empty is none, which lifts one set before (1,000 is Meta's highest level).
	switch text := strings.TrimSpace(f.Get("throughput_mps")); {
	case text == "" && ch.ThroughputCap != nil:
		patch.ThroughputMPS = ptr(int32(1000))
	case text != "":
		if mps, err := strconv.ParseInt(text, 10, 32); err == nil {
			patch.ThroughputMPS = ptr(int32(mps))
		} else {
			f.Errors["throughput_mps"] = "give a cap in messages a second, or leave it empty"
		}
	}
	if *patch.Status == ch.Status {
		patch.Status = nil // unchanged: its reason stays
	}
	// Ticked turns the API on (again, after Meta refused it); unticked turns it off, unless Meta's
	// refusal already did: that stays on record.
	if mm := f.Get("marketing_messages") == "on"; mm || ch.MarketingMessages == "on" {
		patch.MarketingMessages = &mm
	}
	if t := strings.TrimSpace(f.Get("access_token")); t != "" {
		patch.AccessToken = &t
	}
	if s := strings.TrimSpace(f.Get("app_secret")); s != "" {
		patch.AppSecret = &s
	}
	if f.ok() {
		_, err = c.registrar().Update(r.Context(), v.sess.Actor(v.ip), ch.ID, patch)
		if err = takeChannel(f, err); err != nil {
			return err
		}
	}
	if !f.ok() {
		return c.showChannel(w, r, v, http.StatusBadRequest, ch, f, "")
	}
	http.Redirect(w, r, fmt.Sprintf("/channels/%d?saved=1", ch.ID), http.StatusSeeOther)
	return nil
}

func (c *Console) deleteChannel(w http.ResponseWriter, r *http.Request, v *visit) error {
	ch, err := rowOf(c, r, v, channels.Get)
	if err != nil {
		return err
	}
	err = channels.Delete(r.Context(), c.db, v.sess.Actor(v.ip), ch.ID)
	if e, ok := invalid.As(err); ok && e.Code == invalid.CodeConflict {
		f := channelForm(ch)
		f.Error = e.Message
		return c.showChannel(w, r, v, http.StatusConflict, ch, f, "")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/channels?saved=deleted", http.StatusSeeOther)
	return nil
}
