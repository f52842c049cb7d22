package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/testenv"
)

// The settings path in a real browser: an owner imports a CSV with a bad row and downloads the
// rejects; builds a segment with a nested group and sees its count match the API's preview; finds
// a contact and opts them out; enters a
// template by hand and sees it filled for that contact; adds a portfolio and a number Meta
// confirms; sets a frequency cap; invites a marketer and makes them an admin; makes an API key that then works
// against the API, revokes it (it stops working), and finds each of those changes in the audit
// log, filtered to their own. Not parallel: a second browser beside the broadcast path's slowed
// both on a loaded machine (its sends missed their minute).
func TestConsoleSettingsPath(t *testing.T) {
	s := newStack(t, metasim.Config{}, 80)
	var account int64
	if err := s.pool.QueryRow(context.Background(), `SELECT id FROM accounts`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.api)
	b.welcome(s.createUser(account, "owner@example.com", "owner"))

	// Import a CSV with a bad row: its first rows show in the browser, where the Mobile column is
	// chosen as the phone number; the page's script uploads it with a progress bar; the good rows
	// are in, the bad one listed and downloadable.
	csvFile := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(csvFile, []byte("Mobile,name,tags,city,opted_in\n+919876543210,Asha Rao,vip,Pune,true\n"+
		"12,Bad Number,,Delhi,true\n+14155550111,Ben Ode,,Austin,false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run(b.open("/contacts/import"), chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csvFile}),
		chromedp.WaitVisible(chromedp.CSS("#mapping-preview select")))
	// The first rows show; the Mobile column is the phone number.
	if preview := b.text("#mapping-preview"); !strings.Contains(preview, "Asha Rao") || !strings.Contains(preview, "Mobile") {
		t.Fatalf("the preview shows %q", preview)
	}
	get(b, chromedp.Evaluate[bool](`(s => { s.value = "phone"; s.dispatchEvent(new Event("change")); return true })(document.querySelector("#mapping-preview select"))`))
	if m := get(b, chromedp.Value(chromedp.CSS("#mapping"))); m != "phone = Mobile" {
		t.Fatalf("the mapping reads %q", m)
	}
	b.screenshot("import-mapping")
	b.run(chromedp.Click(chromedp.CSS("#import-form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#import-counts")))
	if created, rejected := b.text("#import-created"), b.text("#import-rejected"); created != "2" || rejected != "1" {
		t.Fatalf("import: %s created, %s rejected", created, rejected)
	}
	b.screenshot("import")
	if status, rejects := b.fetch("GET", get(b, chromedp.AttributeValue(chromedp.CSS("#rejects-csv"), "href")).Value, nil); status != 200 ||
		!strings.HasPrefix(rejects, "line,reason\n3,") {
		t.Fatalf("rejects: %d %q", status, rejects)
	}

	// A segment with a nested group: vip, and in Pune or Austin. Its count matches the API's.
	set := func(path, field, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`[name="%s.%s"]`, path, field)), value)
	}
	b.run(b.open("/segments/new"), chromedp.SendKeys(chromedp.CSS("#name"), "VIP in Pune or Austin"),
		set("r.0", "field", "tags"), set("r.0", "op", "contains"), set("r.0", "value", "vip"),
		chromedp.Click(chromedp.CSS(`button[value="add-any:r"]`)), chromedp.WaitVisible(chromedp.CSS(`[name="r.1.0.field"]`)),
		set("r.1.0", "field", "attribute"), set("r.1.0", "attr", "city"), set("r.1.0", "op", "eq"), set("r.1.0", "value", "Pune"),
		chromedp.Click(chromedp.CSS(`button[value="add-cond:r.1"]`)), chromedp.WaitVisible(chromedp.CSS(`[name="r.1.1.field"]`)),
		set("r.1.1", "field", "attribute"), set("r.1.1", "attr", "city"), set("r.1.1", "op", "eq"), set("r.1.1", "value", "Austin"),
		chromedp.Click(chromedp.CSS(`button[value="count"]:not([hidden])`)), chromedp.WaitVisible(chromedp.CSS(`[name="r.1.1.value"][value="Austin"]`)))
	if n := b.text("#segment-count"); !strings.HasPrefix(n, "1 contact matches") {
		t.Fatalf("the builder counts %q", n)
	}
	b.screenshot("segment", true)
	b.run(chromedp.Click(chromedp.CSS("#save-segment")), chromedp.WaitVisible(chromedp.CSS("#saved-segment")))
	loc := get(b, chromedp.Location())
	preview := s.call("GET", "/v1/segments/"+loc[strings.LastIndex(loc, "/")+1:strings.Index(loc, "?")]+"/preview", nil, 200)
	if preview["count"] != float64(1) {
		t.Fatalf("the API's preview counts %v", preview["count"])
	}

	// Find the contact, open it, opt them out naming why.
	b.run(b.open("/contacts"), chromedp.SendKeys(chromedp.CSS("#q"), "asha"), chromedp.Submit(chromedp.CSS("#q")))
	testenv.Eventually(t, "the search's page", 5*time.Second, func() bool { return strings.Contains(get(b, chromedp.Location()), "q=asha") })
	b.run(chromedp.Click(chromedp.CSS(`#contacts a[href^="/contacts/"]`)), chromedp.WaitVisible(chromedp.CSS("#consent-form")), chromedp.SetValue(chromedp.CSS("#source"), "customer_request"),
		chromedp.Click(chromedp.CSS("#consent-button")), chromedp.WaitVisible(chromedp.CSS("#saved-consent")))
	if state := b.text("#consent-state"); !strings.Contains(state, "not opted in") || !strings.Contains(b.text("#consent-history"), "customer_request") {
		t.Fatalf("after opting out: %q", state)
	}
	b.screenshot("contact", true)

	// A template by hand: the text, then where {{1}} comes from; then filled for Asha.
	b.run(b.open("/templates/new"), chromedp.SendKeys(chromedp.CSS("#name"), "winter_sale"),
		chromedp.SendKeys(chromedp.CSS("#body"), "Hi {{1}}, the winter sale in Pune starts today."),
		chromedp.Click(chromedp.CSS(`#template-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`select[name="src.body.1"]`)),
		chromedp.SetValue(chromedp.CSS(`select[name="src.body.1"]`), "contact"), chromedp.SendKeys(chromedp.CSS(`input[name="val.body.1"]`), "first_name"),
		chromedp.SendKeys(chromedp.CSS(`input[name="fb.body.1"]`), "there"),
		chromedp.Click(chromedp.CSS(`#template-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#preview-for")),
		chromedp.SendKeys(chromedp.CSS("#q"), "asha"), chromedp.Submit(chromedp.CSS("#q")), chromedp.WaitVisible(chromedp.CSS("#preview-for")))
	// The search reloads the page: wait for the new one before choosing (a script on the old one
	// would be lost), then choose and send in one script.
	testenv.Eventually(t, "Asha in the chooser", 5*time.Second, func() bool {
		return strings.Contains(get(b, chromedp.Location()), "q=asha") &&
			get(b, chromedp.Evaluate[int](`document.querySelectorAll("#contact option").length`)) == 2
	})
	get(b, chromedp.Evaluate[bool](`(s => { s.selectedIndex = 1; s.form.submit(); return true })(document.querySelector("#contact"))`))
	testenv.Eventually(t, "the preview for Asha", 10*time.Second, func() bool {
		return strings.Contains(b.liveText("#template-preview"), "Hi Asha, the winter sale in Pune starts today.")
	})
	b.screenshot("template")

	// A portfolio and a number, which Meta (metasim) confirms.
	b.run(b.open("/channels"), chromedp.SendKeys(chromedp.CSS("#portfolio-form #name"), "Main"),
		chromedp.SetValue(chromedp.CSS("#portfolio-form #tier"), "2000"), chromedp.Submit(chromedp.CSS("#portfolio-form #name")),
		chromedp.WaitVisible(chromedp.CSS("#saved-portfolio")), b.open("/channels/new"), chromedp.WaitVisible(chromedp.CSS("#channel-form")))
	get(b, chromedp.Evaluate[bool](`(s => { s.selectedIndex = 1; return true })(document.querySelector("#portfolio_id"))`))
	b.run(chromedp.SendKeys(chromedp.CSS("#name"), "Store"), chromedp.SendKeys(chromedp.CSS("#phone_number_id"), phoneNumberID),
		chromedp.SendKeys(chromedp.CSS("#waba_id"), wabaID), chromedp.SendKeys(chromedp.CSS("#access_token"), token),
		chromedp.SendKeys(chromedp.CSS("#app_secret"), appSecret), chromedp.Submit(chromedp.CSS("#name")),
		chromedp.WaitVisible(chromedp.CSS("#saved-channel")))
	if facts := b.text("#channel-facts"); !strings.Contains(facts, "GREEN") || !strings.Contains(facts, "Main") {
		t.Fatalf("the number: %q", facts)
	}
	// Files for media headers: a GIF is refused before anything reaches Meta, a PNG uploaded.
	gif, png := filepath.Join(t.TempDir(), "banner.gif"), filepath.Join(t.TempDir(), "winter-sale.png")
	_ = os.WriteFile(gif, []byte("GIF89a\x01\x00\x01\x00"), 0o644)
	_ = os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), 0o644)
	b.run(chromedp.SetUploadFiles(chromedp.CSS("#media-file"), []string{gif}), chromedp.Submit(chromedp.CSS("#media-file")),
		chromedp.WaitVisible(chromedp.CSS("#media-error")))
	if msg := b.text("#media-error"); !strings.Contains(msg, "image/gif") || s.sim.Counters().MediaUploads != 0 {
		t.Fatalf("a GIF: %q, %d uploads at Meta", msg, s.sim.Counters().MediaUploads)
	}
	b.run(chromedp.SetUploadFiles(chromedp.CSS("#media-file"), []string{png}), chromedp.Submit(chromedp.CSS("#media-file")),
		chromedp.WaitVisible(chromedp.CSS("#media-list")))
	if list := b.text("#media-list"); !strings.Contains(list, "winter-sale.png") || !strings.Contains(list, "image") || s.sim.Counters().MediaUploads != 1 {
		t.Fatalf("the uploads: %q", list)
	}
	b.screenshot("media")
	b.run(b.open("/channels"), chromedp.WaitVisible(chromedp.CSS(`.portfolio[data-portfolio="Main"]`)))
	b.screenshot("numbers")

	// A frequency cap of 2 a week.
	b.run(b.open("/settings"), chromedp.SendKeys(chromedp.CSS("#cap_max"), "2"), chromedp.SendKeys(chromedp.CSS("#cap_days"), "7"),
		chromedp.Submit(chromedp.CSS("#cap_max")), chromedp.WaitVisible(chromedp.CSS("#saved-sending")))
	if cap := get(b, chromedp.Value(chromedp.CSS("#cap_days"))); cap != "7" {
		t.Fatalf("the saved cap shows %q days", cap)
	}
	b.screenshot("settings", true)

	// Invite a marketer, then change the role in their row.
	b.run(b.open("/users"), chromedp.SetValue(chromedp.CSS("#email"), "mo@example.com"), chromedp.SetValue(chromedp.CSS("#role"), "marketer"),
		chromedp.Submit(chromedp.CSS("#email")), chromedp.WaitVisible(chromedp.CSS("#invite-link")))
	row := `#users tr[data-email="mo@example.com"]`
	b.run(chromedp.SetValue(chromedp.CSS(row+` select[name=role]`), "admin"), chromedp.Submit(chromedp.CSS(row+` select[name=role]`)),
		chromedp.WaitVisible(chromedp.CSS("#saved-user")))
	if got := b.text(row + " td:nth-child(2)"); got != "admin" {
		t.Fatalf("the row shows role %q", got)
	}
	b.screenshot("people-roles")

	// A key: its secret shows once and works; revoked, it stops working.
	b.run(b.open("/keys"), chromedp.SendKeys(chromedp.CSS("#name"), "Shop sync"), chromedp.SetValue(chromedp.CSS("#key-role"), "marketer"),
		chromedp.Submit(chromedp.CSS("#name")), chromedp.WaitVisible(chromedp.CSS("#new-key")))
	key := get(b, chromedp.Value(chromedp.CSS("#new-key")))
	if status := apiStatus(t, s.api, key); status != http.StatusOK {
		t.Fatalf("the new key: %d", status)
	}
	b.screenshot("keys")
	// Accept the page's "are you sure?" as a person would.
	get(b, chromedp.Evaluate[bool](`window.confirm = () => true; true`))
	b.run(chromedp.Click(chromedp.CSS(`#keys tr[data-name="Shop sync"] button.danger`)), chromedp.WaitVisible(chromedp.CSS("#saved-key")))
	if status := apiStatus(t, s.api, key); status != http.StatusUnauthorized {
		t.Fatalf("the revoked key: %d", status)
	}

	// The audit log, filtered to the owner's changes, shows each of them.
	b.run(b.open("/audit"), chromedp.WaitVisible(chromedp.CSS("#audit-filter")))
	var owner string
	for _, opt := range strings.Split(get(b, chromedp.Evaluate[string](`[...document.querySelectorAll("#who option")].map(o => o.value + "=" + o.text).join("\n")`)), "\n") {
		if v, label, _ := strings.Cut(opt, "="); label == "owner@example.com" {
			owner = v
		}
	}
	b.run(chromedp.SetValue(chromedp.CSS("#who"), owner), chromedp.Submit(chromedp.CSS("#who")), chromedp.WaitVisible(chromedp.CSS("#audit")))
	testenv.Eventually(t, "the filtered log", 5*time.Second, func() bool {
		return strings.Contains(get(b, chromedp.Location()), "who=") && strings.Contains(b.liveText("#audit"), "api_key.revoke")
	})
	log := b.liveText("#audit")
	for _, action := range []string{"contact.opt_out", "template.create", "portfolio.create", "channel.create", "media.upload", "account.settings", "user.invite", "user.role", "api_key.create", "api_key.revoke"} {
		if !strings.Contains(log, action) {
			t.Errorf("the audit log lacks %s:\n%s", action, log)
		}
	}
	b.screenshot("audit")
}

// apiStatus is the status of GET /v1/account with key.
func apiStatus(t *testing.T, base, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/account", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
