package metasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

const secret = "app-secret"

// receiver is a webhook endpoint that checks signatures and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	statuses []whatsapp.Status
	changes  []whatsapp.Change
	badSig   int
	posts    int
	fail     bool // answer 500
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if whatsapp.VerifySignature(body, r.Header.Get(whatsapp.SignatureHeader), secret) != nil {
		rc.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	n, err := whatsapp.ParseNotification(body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			rc.changes = append(rc.changes, c)
			if v, _, _ := c.Decode(); v != nil {
				if m, ok := v.(*whatsapp.MessagesValue); ok {
					rc.statuses = append(rc.statuses, m.Statuses...)
				}
			}
		}
	}
}

func (rc *receiver) byMessage() map[string][]string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string][]string{}
	for _, s := range rc.statuses {
		code := ""
		if len(s.Errors) > 0 {
			code = fmt.Sprint(":", s.Errors[0].Code)
		}
		out[s.BizOpaqueCallbackData] = append(out[s.BizOpaqueCallbackData], s.Status+code)
	}
	return out
}

type fixture struct {
	sim  *Sim
	url  string
	hook *receiver
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	rc := &receiver{}
	hooks := httptest.NewServer(rc)
	t.Cleanup(hooks.Close)
	cfg.WebhookURL = hooks.URL
	cfg.WebhookSecret = secret
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1000 // statuses in milliseconds
	}
	sim := New(cfg)
	t.Cleanup(sim.Close)
	sim.AddNumber(Number{PhoneNumberID: "1001", WABAID: "2001", DisplayNumber: "+1 555 010 0001", Token: "tok", MPS: 1000, Portfolio: "p1"})
	sim.AddTemplate(Template{Name: "promo", Language: "en", Category: "marketing", Params: map[string]int{"body": 1}})
	sim.AddTemplate(Template{Name: "receipt", Language: "en", Category: "utility"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &fixture{sim: sim, url: srv.URL, hook: rc}
}

// send posts a template message and returns the HTTP status and Meta error code (0 on success).
func (f *fixture) send(t *testing.T, to, template, callback string) (int, int) {
	t.Helper()
	params := `[{"type":"text","text":"x"}]`
	if template == "receipt" {
		params = `[]`
	}
	body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":%q,"type":"template","biz_opaque_callback_data":%q,
		"template":{"name":%q,"language":{"code":"en"},"components":[{"type":"body","parameters":%s}]}}`, to, callback, template, params)
	return f.post(t, body)
}

// post sends a raw send body and returns the HTTP status and Meta error code (0 on success).
func (f *fixture) post(t *testing.T, body string) (int, int) {
	t.Helper()
	return f.postTo(t, "messages", body)
}

// postTo sends a raw body to an endpoint of number 1001 (messages, marketing_messages).
func (f *fixture) postTo(t *testing.T, endpoint, body string) (int, int) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url+"/v23.0/1001/"+endpoint, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Error struct{ Code int }
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out.Error.Code
}

// forgetPairs lets the next send to a recipient go at once, as if the pair-rate interval passed.
func (f *fixture) forgetPairs() {
	f.sim.mu.Lock()
	f.sim.lastPair = map[string]time.Time{}
	f.sim.mu.Unlock()
}

func (f *fixture) control(t *testing.T, path string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	res, err := http.Post(f.url+"/_sim/"+path, "application/json", bytes.NewReader(b))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("control %s: %v %v", path, res.Status, err)
	}
	res.Body.Close()
}

func TestStatusesAreSignedAndFollowTheOutcome(t *testing.T) {
	f := start(t, Config{ReadShare: 1, SentDelay: time.Second, DeliveredDelay: 2 * time.Second, ReadDelay: 3 * time.Second,
		NotOnWhatsApp: []string{"+14155550102"}, StoppedMarketing: []string{"14155550103"}})
	for i, to := range []string{"+14155550101", "+14155550102", "+14155550103"} {
		if status, code := f.send(t, to, "promo", fmt.Sprint("m", i)); status != 200 {
			t.Fatalf("send to %s: %d %d", to, status, code)
		}
	}
	if status, _ := f.send(t, "+14155550103", "receipt", "m3"); status != 200 { // utility reaches a stopped user
		t.Fatal(status)
	}
	testenv.Eventually(t, "statuses", 5*time.Second, func() bool {
		got := f.hook.byMessage()
		return len(got["m0"]) == 3 && len(got["m1"]) == 1 && len(got["m2"]) == 1 && len(got["m3"]) == 3
	})
	got := f.hook.byMessage()
	// Posters run in parallel, so statuses of one message may arrive in any order (as from Meta).
	want := map[string]string{"m0": "[delivered read sent]", "m1": "[failed:131026]", "m2": "[failed:131050]", "m3": "[delivered read sent]"}
	for cb, w := range want {
		slices.Sort(got[cb])
		if fmt.Sprint(got[cb]) != w {
			t.Errorf("%s: %v, want %s", cb, got[cb], w)
		}
	}
	if f.hook.badSig != 0 {
		t.Errorf("%d webhooks had a bad signature", f.hook.badSig)
	}
	c := f.sim.Counters()
	if recs := f.sim.Records(0, "1 (415) 555-0103"); len(recs) != 2 || recs[1].Template != "receipt" {
		t.Errorf("records to one recipient: %+v", recs)
	}
	if c.Accepted != 4 || c.FailedByCode[131026] != 1 || c.FailedByCode[131050] != 1 || c.PerTemplate["promo"] != 3 {
		t.Errorf("counters %+v", c)
	}
}

func TestTierHoldsUniqueRecipients(t *testing.T) {
	f := start(t, Config{DefaultTier: 3})
	for i := range 5 {
		f.send(t, fmt.Sprintf("+1415555020%d", i), "receipt", fmt.Sprint("t", i))
	}
	f.send(t, "+14155550200", "receipt", "again") // a recipient already counted does not count twice
	f.control(t, "inbound", Inbound{PhoneNumberID: "1001", From: "+14155550299", Text: "hi"})
	f.send(t, "+14155550299", "receipt", "window") // inside the service window: free
	c := f.sim.Counters()
	if c.TierBreaches != 2 || c.FailedByCode[codeMarketingCap] != 2 {
		t.Fatalf("a tier of 3 and 5 new recipients: %+v", c)
	}
}

// The Marketing Messages API takes marketing templates of an onboarded business; a business not
// onboarded is refused under the STRICT product policy and goes through Cloud API under Meta's
// default; a utility template or a text is refused whatever the policy.
func TestMarketingMessagesEndpoint(t *testing.T) {
	f := start(t, Config{})
	send := func(template, policy, kind string) int {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+14155550400","type":"template","product_policy":%q,
			"template":{"name":%q,"language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]}}`, policy, template)
		if template == "receipt" {
			body = strings.Replace(body, `[{"type":"text","text":"x"}]`, `[]`, 1)
		}
		if kind == "text" {
			body = `{"messaging_product":"whatsapp","to":"+14155550400","type":"text","text":{"body":"hi"}}`
		}
		f.forgetPairs()
		_, code := f.postTo(t, "marketing_messages", body)
		return code
	}
	lastPath := func() bool { r := f.sim.Records(0, ""); return r[len(r)-1].MarketingMessages }
	if code := send("promo", "STRICT", ""); code != codeMarketingNotAllowed {
		t.Errorf("not onboarded, STRICT: code %d, want %d", code, codeMarketingNotAllowed)
	}
	if code := send("promo", "", ""); code != 0 || lastPath() {
		t.Errorf("not onboarded, Meta's default: code %d, through the MM API %t; want Cloud API", code, lastPath())
	}
	f.sim.AddNumber(Number{PhoneNumberID: "1001", WABAID: "2001", DisplayNumber: "+1 555 010 0001", Token: "tok", MPS: 1000, Portfolio: "p1",
		MarketingMessages: true})
	if code := send("promo", "STRICT", ""); code != 0 || !lastPath() {
		t.Errorf("onboarded: code %d, through the MM API %t", code, lastPath())
	}
	for _, c := range [][2]string{{"receipt", "STRICT"}, {"receipt", ""}, {"promo", "text"}} {
		kind := ""
		if c[1] == "text" {
			kind = "text"
		}
		if code := send(c[0], c[1], kind); code != codeMarketingNotAllowed {
			t.Errorf("%v: code %d, want %d", c, code, codeMarketingNotAllowed)
		}
	}
}

func TestMarketingCapAndPairRate(t *testing.T) {
	f := start(t, Config{MarketingCap: 1, PairInterval: 6 * time.Second, TimeScale: 1})
	f.send(t, "+14155550300", "promo", "a")
	if _, code := f.send(t, "+14155550300", "promo", "b"); code != codePairRate {
		t.Fatalf("second message within 6 s: code %d", code)
	}
	f.forgetPairs()
	f.send(t, "+14155550300", "promo", "c")
	if c := f.sim.Counters(); c.FailedByCode[codeMarketingCap] != 1 || c.RefusedByCode[codePairRate] != 1 {
		t.Fatalf("cap of 1 marketing message a day: %+v", c)
	}
}

func TestControlEvents(t *testing.T) {
	f := start(t, Config{})
	f.control(t, "inbound", Inbound{PhoneNumberID: "1001", From: "+14155550400", Text: "STOP", ContextID: "wamid.X"})
	f.control(t, "user-preferences", Preference{PhoneNumberID: "1001", WaID: "14155550401", Value: "stop"})
	f.control(t, "quality", QualityChange{PhoneNumberID: "1001", Event: "DOWNGRADE", Rating: "YELLOW", Limit: 2000})
	f.control(t, "template-status", TemplateChange{PhoneNumberID: "1001", Name: "promo", Language: "en", Event: "PAUSED"})
	if _, code := f.send(t, "+14155550402", "promo", ""); code != codeTemplatePaused {
		t.Fatalf("send of a paused template: code %d", code)
	}
	testenv.Eventually(t, "four events", 5*time.Second, func() bool { f.hook.mu.Lock(); defer f.hook.mu.Unlock(); return len(f.hook.changes) == 4 })
	fields := map[string]bool{}
	for _, c := range f.hook.changes {
		fields[c.Field] = true
		v, ok, err := c.Decode()
		if !ok || err != nil {
			t.Fatalf("%s: %v", c.Field, err)
		}
		if m, isMsg := v.(*whatsapp.MessagesValue); isMsg && (m.Messages[0].Content() != "STOP" || m.Messages[0].Context.ID != "wamid.X") {
			t.Errorf("inbound: %+v", m.Messages[0])
		}
	}
	if len(fields) != 4 {
		t.Errorf("fields %v", fields)
	}
	f.sim.mu.Lock()
	q := f.sim.numbers["1001"].Quality
	f.sim.mu.Unlock()
	if q != "YELLOW" {
		t.Errorf("quality %s", q)
	}
}

func TestShuffleDuplicatesAndRetries(t *testing.T) {
	f := start(t, Config{ReadShare: 1, DuplicateShare: 1, Shuffle: true, SentDelay: time.Second, DeliveredDelay: 2 * time.Second, ReadDelay: 3 * time.Second})
	f.hook.mu.Lock()
	f.hook.fail = true // the receiver is down at first: the simulator retries, as Meta does
	f.hook.mu.Unlock()
	for i := range 20 {
		f.send(t, fmt.Sprintf("+141555505%02d", i), "receipt", fmt.Sprint("d", i))
	}
	time.Sleep(150 * time.Millisecond)
	f.hook.mu.Lock()
	f.hook.fail = false
	f.hook.mu.Unlock()
	testenv.Eventually(t, "every status twice", 5*time.Second, func() bool { f.hook.mu.Lock(); defer f.hook.mu.Unlock(); return len(f.hook.statuses) == 20*3*2 })
	inOrder := 0
	for _, seq := range f.hook.byMessage() {
		if fmt.Sprint(seq[:3]) == "[sent sent delivered]" || fmt.Sprint(seq[:2]) == "[sent delivered]" {
			inOrder++
		}
	}
	if inOrder == 20 {
		t.Error("shuffle left every message in order")
	}
	// The poster counts a batch after the receiver answered: wait for it to settle.
	testenv.Eventually(t, "nothing pending", 5*time.Second, func() bool { return f.sim.Counters().WebhooksPending == 0 })
	if c := f.sim.Counters(); c.WebhookFailures == 0 || c.WebhooksPosted != 120 {
		t.Errorf("counters %+v", c)
	}
}

// Injected 130429s and 5xx send nothing and are counted apart from the simulator's own refusals;
// lost webhooks are never posted, late ones come after the others, and Posted tells which came.
func TestInjectedFaultsLostAndLateWebhooks(t *testing.T) {
	f := start(t, Config{SentDelay: time.Second, LoseShare: 0.5, LateShare: 0.5, LateDelay: 300 * time.Millisecond, Seed: 7,
		Faults: Faults{RateLimited: 0.3, ServerError: 0.2}})
	codes := map[int]int{}
	for i := range 100 {
		_, code := f.send(t, fmt.Sprintf("+14155550%03d", i), "receipt", fmt.Sprint("d", i))
		codes[code]++
	}
	c := f.sim.Counters()
	if codes[130429] != c.Injected["rate_limited"] || codes[131000] != c.Injected["server_error"] || codes[0] != c.Accepted ||
		codes[130429] == 0 || codes[131000] == 0 || len(c.RefusedByCode) != 0 {
		t.Fatalf("answers %v, counters %+v", codes, c)
	}
	time.Sleep(100 * time.Millisecond)
	early := len(f.sim.Posted())
	testenv.Eventually(t, "webhooks settled", 5*time.Second, func() bool { return f.sim.Counters().WebhooksPending == 0 })
	posted := f.sim.Posted()
	if early == 0 || len(posted) <= early || len(posted) >= c.Accepted || len(f.hook.byMessage()) != len(posted) {
		t.Fatalf("%d accepted, %d posted on time, %d in all (%d received)", c.Accepted, early, len(posted), len(f.hook.byMessage()))
	}
}

// The simulator must outrun any sender: measured as requests per second.
func BenchmarkSend(b *testing.B) {
	sim := New(Config{DefaultMPS: 1_000_000, DefaultTier: 0})
	defer sim.Close()
	sim.AddNumber(Number{PhoneNumberID: "1001", WABAID: "2001", Token: "tok"})
	sim.AddTemplate(Template{Name: "receipt", Language: "en", Category: "utility"})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n int64
	var mu sync.Mutex
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			to := fmt.Sprintf("+1415%07d", n)
			mu.Unlock()
			body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":%q,"type":"template","template":{"name":"receipt","language":{"code":"en"}}}`, to)
			req, _ := http.NewRequest("POST", srv.URL+"/v23.0/1001/messages", bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer tok")
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// Throughput counts over any sliding second: five sends late in one second leave no room for a
// sixth early in the next, as they would per calendar second.
func TestThroughputSlidesOverTheSecond(t *testing.T) {
	t.Parallel()
	n := &number{Number: Number{MPS: 5}}
	start := time.Date(2026, 12, 7, 10, 0, 0, 900_000_000, time.UTC)
	for i := range 5 {
		if !n.admitThroughput(start.Add(time.Duration(i) * time.Millisecond)) {
			t.Fatalf("send %d refused", i)
		}
	}
	if n.admitThroughput(start.Add(200 * time.Millisecond)) {
		t.Fatal("a sixth send within a second of the first five was accepted")
	}
	if !n.admitThroughput(start.Add(time.Second)) {
		t.Fatal("a send a second after the first was refused")
	}
	if n.admitThroughput(start.Add(time.Second)) {
		t.Fatal("two sends in the place of one")
	}
}

// Sends reach the count in another order than they arrived: every second holding a late-counted
// send is checked, and an early arrival counted late does not stand for the latest one.
func TestThroughputCountsArrivalsOutOfOrder(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	n := &number{Number: Number{MPS: 2}}
	for _, step := range []struct {
		ms    int
		admit bool
	}{
		{900, true},
		{0, true},     // arrived first, counted second
		{1050, true},  // the second from 900 holds two; the one from 0 has ended
		{1000, false}, // the second from 900 would hold three
		{1500, false}, // the second from 900 would hold 900, 1050 and 1500
		{2100, true},
		{3200, true},
		{2150, true},  // counted late; no second holding it holds two others
		{2900, false}, // the second from 2100 would hold 2100, 2150 and 2900
		{3100, true},
		{3150, false}, // the second from 3100, which holds 3200 already, would hold three
	} {
		if got := n.admitThroughput(at(step.ms)); got != step.admit {
			t.Fatalf("send at %d ms: admitted %v, want %v", step.ms, got, step.admit)
		}
	}
}

// A wall-clock second's count (MaxPerSecond) holds its sends whatever order they were counted in.
func TestSecondCountsArrivalsOutOfOrder(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 10, 0, 1, 0, time.UTC)
	n := &number{Number: Number{MPS: 10}}
	for _, ms := range []int{900, 1100, 800} { // the last arrived in the first second, counted last
		if !n.admitThroughput(start.Add(time.Duration(ms) * time.Millisecond)) {
			t.Fatalf("send at %d ms refused", ms)
		}
	}
	if n.inSecond != 2 {
		t.Fatalf("the first second holds %d sends, want 2", n.inSecond)
	}
}

// A template of named parameters takes each parameter by its name, every name once.
func TestNamedParametersChecked(t *testing.T) {
	f := start(t, Config{})
	f.sim.AddTemplate(Template{Name: "note", Language: "en", Category: "utility", Params: map[string]int{"body": 2},
		Components: []whatsapp.TemplateComponent{{Type: "BODY", Text: "Hi {{first_name}}, see you in {{city}}."}}})
	for params, code := range map[string]int{
		`{"type":"text","parameter_name":"city","text":"Pune"},{"type":"text","parameter_name":"first_name","text":"A"}`: 0,
		`{"type":"text","text":"A"},{"type":"text","text":"Pune"}`:                                                       codeParamCount,
		`{"type":"text","parameter_name":"city","text":"A"},{"type":"text","parameter_name":"city","text":"B"}`:          codeParamCount,
	} {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+14155550700","type":"template",
			"template":{"name":"note","language":{"code":"en"},"components":[{"type":"body","parameters":[%s]}]}}`, params)
		if _, got := f.post(t, body); got != code {
			t.Errorf("%s: code %d, want %d", params, got, code)
		}
		f.forgetPairs()
	}
}

// A button component must name a button the template lists, with its kind's sub_type (an
// authentication template's code button goes as a URL button).
func TestButtonsChecked(t *testing.T) {
	f := start(t, Config{})
	f.sim.AddTemplate(Template{Name: "book", Language: "en", Category: "marketing", Params: map[string]int{"button.0": 1},
		Components: []whatsapp.TemplateComponent{{Type: "BODY", Text: "Book a visit"},
			{Type: "BUTTONS", Buttons: []whatsapp.TemplateButton{{Type: "OTP", Text: "Copy code"}, {Type: "FLOW", Text: "Book"}}}}})
	code := `{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"123"}]}`
	for buttons, want := range map[string]int{
		code + `,{"type":"button","sub_type":"flow","index":"1","parameters":[{"type":"action","action":{"flow_token":"unused"}}]}`: 0,
		code + `,{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"x"}]}`:                          codeParamInvalid,
		code + `,{"type":"button","sub_type":"flow","index":"7","parameters":[]}`:                                                   codeParamInvalid,
	} {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+14155550900","type":"template",
			"template":{"name":"book","language":{"code":"en"},"components":[%s]}}`, buttons)
		if _, got := f.post(t, body); got != want {
			t.Errorf("%s: code %d, want %d", buttons, got, want)
		}
		f.forgetPairs()
	}
}
