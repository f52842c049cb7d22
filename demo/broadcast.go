package demo

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dripcast/dripcast/metasim"
)

// The demo's WhatsApp number, on metasim.
const (
	demoNumberID  = "100000000000001"
	demoToken     = "EAAG-demo-token"
	demoAppSecret = "demo-app-secret"
	demoMPS       = 250
)

// startMetasim runs the Cloud API simulator in this process: statuses come back within seconds
// (time runs 60 times faster there), 60 % of messages are read, 2 % fail, and a few numbers are
// not on WhatsApp.
func (d *demo) startMetasim(webhookURL string) (string, func(), error) {
	var missing []string
	for i := 7; i < d.cfg.Contacts; i += 150 {
		missing = append(missing, fmt.Sprintf("+9198%03d%05d", i/100000, i%100000))
	}
	sim := metasim.New(metasim.Config{TimeScale: 60, WebhookURL: webhookURL, WebhookSecret: demoAppSecret,
		SentDelay: 2 * time.Second, DeliveredDelay: 10 * time.Second, ReadDelay: 60 * time.Second, ReadShare: 0.6, FailShare: 0.02,
		NotOnWhatsApp: missing, PairInterval: 6 * time.Second})
	sim.AddNumber(metasim.Number{PhoneNumberID: demoNumberID, WABAID: "200000000000001", DisplayNumber: "+14155550199",
		Token: demoToken, MPS: demoMPS, Portfolio: "demo"})
	sim.AddTemplate(metasim.Template{Name: "diwali_offer", Language: "en", Category: "marketing", Params: map[string]int{"body": 4}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(metasim.Stamp(srv, l)) }()
	d.sim = sim
	return "http://" + l.Addr().String(), func() { _ = srv.Close(); sim.Close() }, nil
}

// channel registers the demo's WhatsApp number (on metasim) in its portfolio.
func (d *demo) channel() (int64, error) {
	var p, ch struct{ ID int64 }
	if err := d.callJSON("POST", "/v1/portfolios", map[string]any{"name": "Demo Shop", "tier": 10000}, &p); err != nil {
		return 0, err
	}
	err := d.callJSON("POST", "/v1/channels", map[string]any{"portfolio_id": p.ID, "name": "Sales", "phone_number_id": demoNumberID,
		"waba_id": "200000000000001", "display_number": "+14155550199", "access_token": demoToken, "app_secret": demoAppSecret,
		"throughput_mps": demoMPS}, &ch)
	return ch.ID, err
}

// broadcast sends the template to the segment and shows the funnel live.
func (d *demo) broadcast(ctx context.Context, channel, template int64) error {
	d.step("A broadcast to everyone tagged vip, through metasim (a WhatsApp number at %d messages/s)", demoMPS)
	var b struct{ ID int64 }
	if err := d.callJSON("POST", "/v1/broadcasts", map[string]any{"name": "Diwali sale", "channel_id": channel, "template_id": template,
		"audience": map[string]any{"tag": "vip"}}, &b); err != nil {
		return err
	}
	var rep report
	start, last, lastSent := time.Now(), time.Now(), d.sim.Counters().Accepted
	for {
		var out struct {
			Broadcast struct{ Status string }
			Report    report
		}
		if err := d.call("GET", fmt.Sprintf("/v1/broadcasts/%d/report", b.ID), "", nil, &out); err != nil {
			return err
		}
		rep = out.Report
		sent := d.sim.Counters().Accepted
		rate := float64(sent-lastSent) / time.Since(last).Seconds()
		last, lastSent = time.Now(), sent
		progress(d.out, int(rep.Progress*1000), 1000, fmt.Sprintf("sent %d  delivered %d  read %d  failed %d  %.0f/s of %d/s",
			rep.Sent, rep.Delivered, rep.Read, sum(rep.Failed), rate, demoMPS))
		done := out.Broadcast.Status == "completed" && d.sim.Counters().WebhooksPending == 0
		if done || time.Since(start) > 2*time.Minute {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Fprintf(d.out, "\n  Completed in %.1fs. The funnel:\n", time.Since(start).Seconds())
	rows := [][2]string{
		{"audience", fmt.Sprint(rep.Audience)},
		{"skipped (not opted in)", fmt.Sprint(rep.Skipped["opted_out"])},
		{"sent", fmt.Sprint(rep.Sent)},
		{"delivered", fmt.Sprintf("%d (%.1f%% of the %d reachable on WhatsApp)", rep.Delivered, pct(rep.DeliveryRate), rep.Effective)},
		{"read", fmt.Sprintf("%d (%.1f%%)", rep.Read, pct(rep.ReadRate))},
		{"failed", failedText(rep.Failed)},
	}
	for _, r := range rows {
		fmt.Fprintf(d.out, "    %-24s %s\n", r[0], r[1])
	}
	return nil
}

type report struct {
	Audience, Sent, Delivered, Read int64
	Effective                       int64 `json:"effective_audience"`
	Skipped, Failed                 map[string]int64
	DeliveryRate                    *float64 `json:"delivery_rate"`
	ReadRate                        *float64 `json:"read_rate"`
	Progress                        float64
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func pct(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v * 100
}

func failedText(m map[string]int64) string {
	var parts []string
	for code, n := range m {
		name := code
		if code == "131026" {
			name = "131026 not on WhatsApp"
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", n, name))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}
