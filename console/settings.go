package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/account"
	"github.com/dripcast/dripcast/costs"
	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/policy"
)

// settingsShown is the settings page's forms, as stored or as sent back with errors (prices nil:
// as stored).
type settingsShown struct {
	sending, ips, prices *form
	refused              string
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	s, err := account.Settings(r.Context(), c.q, v.sess.AccountID)
	if err != nil {
		return err
	}
	return c.showSettings(w, r, v, http.StatusOK, settingsShown{sending: sendingForm(s), ips: c.ipsForm(v)})
}

func (c *Console) showSettings(w http.ResponseWriter, r *http.Request, v *visit, status int, s settingsShown) error {
	if s.prices == nil {
		list, err := costs.Prices(r.Context(), c.q, v.sess.AccountID)
		if err != nil {
			return err
		}
		s.prices = pricesForm(list)
	}
	acct, err := c.q.GetAccount(r.Context(), v.sess.AccountID)
	if err != nil {
		return err
	}
	c.render(w, r, v, status, "settings", "Settings", map[string]any{"Sending": s.sending, "IPs": s.ips, "Prices": s.prices,
		"Refused": s.refused, "Weekdays": weekdays, "ExportApproval": acct.ExportsNeedApproval,
		"Saved": r.URL.Query().Get("saved"), "YourIP": v.ip.String(), "Defaults": map[string]string{
			"failure": pct(policy.DefaultAutoPauseFailureRate), "optout": pct(policy.DefaultAutoPauseOptOutRate),
			"yellow": pct(policy.DefaultYellowRateFactor), "keywords": strings.Join(policy.DefaultOptOutKeywords, ", "),
			"content": strconv.Itoa(policy.DefaultContentDays)}})
	return nil
}

// ipsForm is the allowed addresses as stored, one per line.
func (c *Console) ipsForm(v *visit) *form {
	f := &form{Values: map[string][]string{}, Errors: map[string]string{}}
	f.Values.Set("allowed_ips", strings.Join(account.ViewAllowedIPs(v.sess.AllowedIPs).AllowedIPs, "\n"))
	return f
}

// sendingForm shows settings as people type them: shares as percentages, empty for a default.
func sendingForm(s policy.Settings) *form {
	f := &form{Values: map[string][]string{}, Errors: map[string]string{}}
	if s.FrequencyCap != nil {
		f.Values.Set("cap_max", strconv.Itoa(s.FrequencyCap.Max))
		f.Values.Set("cap_days", strconv.Itoa(s.FrequencyCap.Days))
	}
	for name, share := range map[string]float64{"failure": s.AutoPauseFailureRate, "optout": s.AutoPauseOptOutRate, "yellow": s.YellowRateFactor} {
		if share != 0 {
			f.Values.Set(name, pct(share))
		}
	}
	f.Values.Set("keywords", strings.Join(s.OptOutKeywords, ", "))
	if w := s.SendWindow; w != nil {
		f.Values.Set("win_start", w.Start)
		f.Values.Set("win_end", w.End)
		f.Values["win_days"] = w.Days
	}
	if s.ResendNotSent {
		f.Values.Set("resend", "on")
	}
	if s.Retention != nil {
		f.Values.Set("content_days", strconv.Itoa(s.Retention.ContentDays))
	}
	return f
}

func pct(share float64) string { return strconv.FormatFloat(share*100, 'f', -1, 64) }

// saveSending reads the sending form back into settings (a field error for what does not parse)
// and saves them through the same rules as the API. Settings the form does not show (the default
// retry policy, set through the API) keep their stored value.
func (c *Console) saveSending(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	stored, err := account.Settings(r.Context(), c.q, v.sess.AccountID)
	if err != nil {
		return err
	}
	s := policy.Settings{Retry: stored.Retry}
	if f.Get("cap_max") != "" || f.Get("cap_days") != "" {
		maxN, err1 := strconv.Atoi(f.Get("cap_max"))
		days, err2 := strconv.Atoi(f.Get("cap_days"))
		if err1 != nil || err2 != nil {
			f.Errors["frequency_cap"] = "give both numbers, or neither for no cap"
		}
		s.FrequencyCap = &policy.FrequencyCap{Max: maxN, Days: days}
	}
	for name, dst := range map[string]*float64{"failure": &s.AutoPauseFailureRate, "optout": &s.AutoPauseOptOutRate, "yellow": &s.YellowRateFactor} {
		if t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f.Get(name)), "%")); t != "" {
			n, err := strconv.ParseFloat(t, 64)
			if err != nil || n <= 0 || n > 100 {
				f.Errors[name] = "a percentage above 0 and up to 100, or empty for the default"
				continue
			}
			*dst = n / 100
		}
	}
	for _, k := range strings.Split(f.Get("keywords"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			s.OptOutKeywords = append(s.OptOutKeywords, k)
		}
	}
	if start, end := f.Get("win_start"), f.Get("win_end"); start != "" || end != "" || len(f.Values["win_days"]) > 0 {
		s.SendWindow = &policy.Window{Start: start, End: end, Days: f.Values["win_days"]}
	}
	s.ResendNotSent = f.Get("resend") != ""
	if t := strings.TrimSpace(f.Get("content_days")); t != "" {
		days, err := strconv.Atoi(t)
		if err != nil {
			f.Errors["content_days"] = "a number of days, or empty for the default"
		}
		s.Retention = &policy.Retention{ContentDays: days}
	}
	if f.ok() {
		err := account.SaveSettings(r.Context(), c.db, v.sess.Actor(v.ip), s)
		if e, ok := invalid.As(err); ok {
			field, _, _ := strings.Cut(e.Field, ".")
			e.Field = map[string]string{"frequency_cap": "frequency_cap", "auto_pause_failure_rate": "failure",
				"auto_pause_opt_out_rate": "optout", "yellow_rate_factor": "yellow", "opt_out_keywords": "keywords", "send_window": "window",
				"retention": "content_days"}[field]
		}
		if err := f.take(err); err != nil {
			return err
		}
	}
	if !f.ok() {
		return c.showSettings(w, r, v, http.StatusBadRequest, settingsShown{sending: f, ips: c.ipsForm(v)})
	}
	http.Redirect(w, r, "/settings?saved=sending", http.StatusSeeOther)
	return nil
}

// saveAllowedIPs replaces the addresses the account accepts, one per line.
func (c *Console) saveAllowedIPs(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	entries := []string{}
	for _, line := range strings.Split(f.Get("allowed_ips"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			entries = append(entries, line)
		}
	}
	_, err := account.SetAllowedIPs(r.Context(), c.db, v.sess.Actor(v.ip), entries)
	s, serr := account.Settings(r.Context(), c.q, v.sess.AccountID)
	if serr != nil {
		return serr
	}
	if e, ok := invalid.As(err); ok && e.Code == invalid.CodeConflict {
		return c.showSettings(w, r, v, http.StatusConflict, settingsShown{sending: sendingForm(s), ips: f, refused: e.Message})
	}
	if e, ok := invalid.As(err); ok && strings.HasPrefix(e.Field, "allowed_ips") {
		e.Field = "allowed_ips" // one entry's error, beside the list
	}
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showSettings(w, r, v, http.StatusBadRequest, settingsShown{sending: sendingForm(s), ips: f})
	}
	http.Redirect(w, r, "/settings?saved=ips", http.StatusSeeOther)
	return nil
}

// pricesForm is the price list as people type it: a line "category country price currency" each.
func pricesForm(list costs.PriceList) *form {
	f := &form{Values: map[string][]string{}, Errors: map[string]string{}}
	lines := make([]string, len(list.Prices))
	for i, p := range list.Prices {
		lines[i] = strings.Join([]string{p.Category, p.Country, p.Price.String(), p.Currency}, " ")
	}
	f.Values.Set("prices", strings.Join(lines, "\n"))
	return f
}

// savePrices replaces the account's price list from its lines, through the same rules as the API;
// an error names its line.
func (c *Console) savePrices(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r)
	var list costs.PriceList
	var lineOf []int // the form's line of each price
	for n, line := range strings.Split(f.Get("prices"), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 4 {
			f.Errors["prices"] = fmt.Sprintf("line %d: write category, country, price and currency, such as: marketing IN 0.0107 USD", n+1)
			break
		}
		list.Prices = append(list.Prices, costs.Price{Category: fields[0], Country: strings.ToUpper(fields[1]),
			Price: json.Number(fields[2]), Currency: strings.ToUpper(fields[3])})
		lineOf = append(lineOf, n+1)
	}
	if f.ok() {
		_, err := costs.SetPrices(r.Context(), c.db, v.sess.Actor(v.ip), list)
		if e, ok := invalid.As(err); ok {
			var i int
			if _, scanErr := fmt.Sscanf(e.Field, "prices[%d]", &i); scanErr == nil && i < len(lineOf) {
				e.Message = fmt.Sprintf("line %d: %s", lineOf[i], e.Message)
			}
			e.Field = "prices"
		}
		if err := f.take(err); err != nil {
			return err
		}
	}
	if !f.ok() {
		s, err := account.Settings(r.Context(), c.q, v.sess.AccountID)
		if err != nil {
			return err
		}
		return c.showSettings(w, r, v, http.StatusBadRequest, settingsShown{sending: sendingForm(s), ips: c.ipsForm(v), prices: f})
	}
	http.Redirect(w, r, "/settings?saved=prices", http.StatusSeeOther)
	return nil
}
