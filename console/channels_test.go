package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// An admin adds a portfolio and a number Meta (metasim) confirms; a token that does not own the
// number is refused with Meta's one answer; the number is paused by hand and renamed; a marketer
// sees the numbers but no form.
func TestChannelPages(t *testing.T) {
	t.Parallel()
	sim := metasim.New(metasim.Config{})
	t.Cleanup(sim.Close)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	sim.AddNumber(metasim.Number{PhoneNumberID: "100000000000009", WABAID: "200000000000009", DisplayNumber: "+1 415 555 0199",
		Token: "EAAG-console-token"})
	e := newEnv(t)
	e.c = New(e.pool, slog.New(slog.NewTextHandler(testLog{t}, nil)), Options{Secrets: testenv.Secrets(t),
		Meta: whatsapp.NewClient(simSrv.URL, "v23.0", 5*time.Second)})
	srv := httptest.NewServer(e.c.Handler())
	t.Cleanup(srv.Close)
	e.srv = srv
	account := e.account("acme")
	admin := e.signIn(account, "admin")

	if status, body := admin.do("POST", "/portfolios", url.Values{"name": {""}, "tier": {"2000"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "is required") {
		t.Fatalf("a portfolio without a name: %d", status)
	}
	if status, _ := admin.do("POST", "/portfolios", url.Values{"name": {"Main"}, "tier": {"2000"}}); status != http.StatusSeeOther {
		t.Fatalf("portfolio: %d", status)
	}
	var portfolio int64
	_ = e.pool.QueryRow(context.Background(), `SELECT id FROM portfolios WHERE account_id = $1`, account).Scan(&portfolio)
	form := url.Values{"portfolio_id": {fmt.Sprint(portfolio)}, "name": {"Sales"}, "phone_number_id": {"100000000000009"},
		"waba_id": {"200000000000009"}, "access_token": {"EAAG-not-the-token"}, "app_secret": {"app-secret-123"}, "throughput_mps": {"80"}}
	if status, body := admin.do("POST", "/channels/new", form); status != http.StatusBadRequest || !strings.Contains(body, "Meta did not confirm") {
		t.Fatalf("another token: %d", status)
	}
	form.Set("access_token", "EAAG-console-token")
	status, _ := admin.do("POST", "/channels/new", form)
	if status != http.StatusSeeOther {
		t.Fatalf("add: %d", status)
	}
	q := queries.New(e.pool)
	chans, _ := q.ListChannels(context.Background(), queries.ListChannelsParams{AccountID: account, Lim: 10})
	if len(chans) != 1 || chans[0].DisplayNumber != "+14155550199" || strings.Contains(string(chans[0].AccessTokenEnc), "EAAG") {
		t.Fatalf("stored %+v", chans)
	}
	page := fmt.Sprintf("/channels/%d", chans[0].ID)
	if status, _ := admin.do("POST", page, url.Values{"name": {"Support"}, "throughput_mps": {"80"}, "status": {"paused"}}); status != http.StatusSeeOther {
		t.Fatalf("pause: %d", status)
	}
	got, _ := q.GetChannel(context.Background(), queries.GetChannelParams{AccountID: account, ID: chans[0].ID})
	if got.Status != "paused" || got.Name != "Support" || got.StatusReason != "set by hand" || got.MarketingMessages != "off" {
		t.Fatalf("after the edit: %q %q %q %q", got.Status, got.Name, got.StatusReason, got.MarketingMessages)
	}
	// The Marketing Messages API: turned on; Meta's refusal shows with its note; ticked again, on.
	edit := url.Values{"name": {"Support"}, "throughput_mps": {"80"}, "status": {"paused"}, "marketing_messages": {"on"}}
	admin.do("POST", page, edit)
	if _, err := e.pool.Exec(context.Background(), `UPDATE channels SET marketing_messages = 'refused', marketing_messages_note = 'not onboarded'
		WHERE id = $1 AND marketing_messages = 'on'`, chans[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, body := admin.do("GET", page, nil); !strings.Contains(body, "refused by Meta") || !strings.Contains(body, "not onboarded") ||
		strings.Contains(body, `id="marketing_messages" checked`) {
		t.Errorf("the refused channel's page does not say so")
	}
	admin.do("POST", page, edit)
	if got, _ = q.GetChannel(context.Background(), queries.GetChannelParams{AccountID: account, ID: chans[0].ID}); got.MarketingMessages != "on" ||
		got.MarketingMessagesNote != "" || got.MarketingMessagesAt == nil {
		t.Errorf("turned on again: %q %q %v", got.MarketingMessages, got.MarketingMessagesNote, got.MarketingMessagesAt)
	}
	marketer := e.signIn(account, "marketer")
	if status, body := marketer.do("GET", "/channels", nil); status != http.StatusOK || !strings.Contains(body, "14155550199") ||
		strings.Contains(body, `id="portfolio-form"`) {
		t.Fatalf("a marketer's view: %d", status)
	}
	if status, body := marketer.do("GET", page, nil); status != http.StatusOK || strings.Contains(body, `id="channel-edit"`) {
		t.Fatalf("a marketer's view of the number: %d", status)
	}

	// The number's WABA lists its templates: a marketer syncs them; the new one asks for its sources.
	sim.AddTemplate(metasim.Template{Name: "order_ready", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
	status, body := marketer.do("POST", "/templates/sync", url.Values{"channel": {fmt.Sprint(chans[0].ID)}})
	if status != http.StatusOK || !strings.Contains(body, "Synced: 1 new") || !strings.Contains(body, "order_ready (en)</a>: needs a source for body.1") {
		t.Fatalf("sync: %d\n%.2000s", status, body)
	}
	tpl, err := q.TemplateByName(context.Background(), queries.TemplateByNameParams{AccountID: account, Name: "order_ready", Language: "en"})
	if _, body := marketer.do("GET", fmt.Sprintf("/templates/%d", tpl.ID), nil); err != nil || !strings.Contains(body, `id="mapping-note"`) {
		t.Errorf("the synced template's page has no note of the parameters to map (%v)", err)
	}
	if status, body := marketer.do("POST", "/templates/sync", url.Values{"channel": {"999999"}}); status != http.StatusConflict || !strings.Contains(body, "channel not found") {
		t.Errorf("another account's or no channel: %d", status)
	}
}
