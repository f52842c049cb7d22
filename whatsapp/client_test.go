package whatsapp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/whatsapp"
)

const (
	numberID = "100000000000001"
	token    = "tok"
)

func newSim(t *testing.T, cfg metasim.Config) (*metasim.Sim, *whatsapp.Client) {
	t.Helper()
	sim := metasim.New(cfg)
	t.Cleanup(sim.Close)
	sim.AddNumber(metasim.Number{PhoneNumberID: numberID, WABAID: "200", DisplayNumber: "+1 555 010 0001", Token: token, MPS: 5})
	sim.AddTemplate(metasim.Template{Name: "order_update", Language: "en_US", Category: "utility",
		Params: map[string]int{"body": 2, "button.1": 1}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, whatsapp.NewClient(srv.URL, "v23.0", 2*time.Second)
}

func orderTemplate(params int) whatsapp.Template {
	body := make([]whatsapp.Parameter, params)
	for i := range body {
		body[i] = whatsapp.Parameter{Type: "text", Text: "x"}
	}
	return whatsapp.NewTemplate("order_update", "en_US", []whatsapp.Component{
		{Type: "body", Parameters: body},
		{Type: "button", SubType: "url", Index: "1", Parameters: []whatsapp.Parameter{{Type: "text", Text: "A-1"}}},
	})
}

func classOf(t *testing.T, err error) whatsapp.Class {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	return whatsapp.Classify(err).Class
}

func TestSendTemplate(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t, metasim.Config{PairInterval: 6 * time.Second})
	ctx := context.Background()
	res, err := c.SendTemplate(ctx, token, numberID, "+1 415 555 0100", orderTemplate(2), "msg-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.WAMID) < 10 || res.WAMID[:6] != "wamid." || res.WaID != "14155550100" || res.MessageStatus != "accepted" {
		t.Fatalf("result %+v", res)
	}
	recs := sim.Records(0, "")
	if len(recs) != 1 || recs[0].Callback != "msg-1" || recs[0].WAMID != res.WAMID || recs[0].Template != "order_update" {
		t.Fatalf("simulator saw %+v", recs)
	}

	cases := []struct {
		name  string
		send  func() error
		code  int
		class whatsapp.Class
	}{
		{"bad token", func() error {
			_, err := c.SendTemplate(ctx, "nope", numberID, "+14155550101", orderTemplate(2), "")
			return err
		}, 190, whatsapp.StopChannel},
		{"unknown number", func() error {
			_, err := c.SendTemplate(ctx, token, "999", "+14155550101", orderTemplate(2), "")
			return err
		}, 100, whatsapp.StopStep},
		{"unknown template", func() error {
			_, err := c.SendTemplate(ctx, token, numberID, "+14155550101", whatsapp.NewTemplate("nope", "en_US", nil), "")
			return err
		}, 132001, whatsapp.StopStep},
		{"parameter count", func() error {
			_, err := c.SendTemplate(ctx, token, numberID, "+14155550101", orderTemplate(1), "")
			return err
		}, 132000, whatsapp.StopStep},
		{"pair rate", func() error {
			_, err := c.SendTemplate(ctx, token, numberID, "+14155550100", orderTemplate(2), "")
			return err
		}, 131056, whatsapp.RateLimited},
	}
	for _, tc := range cases {
		err := tc.send()
		var api *whatsapp.APIError
		if !errors.As(err, &api) || api.Code != tc.code || classOf(t, err) != tc.class {
			t.Errorf("%s: %v (class %v), want code %d class %v", tc.name, err, whatsapp.Classify(err).Class, tc.code, tc.class)
		}
	}
}

// A marketing template goes through the Marketing Messages API under the STRICT product policy:
// a business not onboarded is refused (MarketingRefused), an onboarded one's send is taken there.
func TestSendMarketingTemplate(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t, metasim.Config{})
	sim.AddTemplate(metasim.Template{Name: "sale", Language: "en", Category: "marketing"})
	ctx := context.Background()
	sale := whatsapp.NewTemplate("sale", "en", nil)
	_, err := c.SendMarketingTemplate(ctx, token, numberID, "+14155550100", sale, "m-1")
	if !whatsapp.MarketingRefused(err) {
		t.Fatalf("not onboarded: %v, want a refusal", err)
	}
	if recs := sim.Records(0, ""); len(recs) != 1 || recs[0].Accepted() {
		t.Fatalf("not onboarded, the simulator saw %+v", recs)
	}
	sim.AddNumber(metasim.Number{PhoneNumberID: numberID, WABAID: "200", DisplayNumber: "+1 555 010 0001", Token: token, MPS: 5, MarketingMessages: true})
	res, err := c.SendMarketingTemplate(ctx, token, numberID, "+14155550100", sale, "m-1")
	if err != nil || res.MessageStatus != "accepted" {
		t.Fatalf("onboarded: %+v %v", res, err)
	}
	if recs := sim.Records(1, ""); len(recs) != 1 || !recs[0].MarketingMessages || recs[0].Callback != "m-1" {
		t.Fatalf("onboarded, the simulator saw %+v", recs)
	}
}

func TestThroughputLimit(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t, metasim.Config{})
	ctx := context.Background()
	limited := 0
	for i := range 12 {
		_, err := c.SendTemplate(ctx, token, numberID, fmt.Sprintf("+141555501%02d", i), orderTemplate(2), "")
		if err != nil {
			if classOf(t, err) != whatsapp.RateLimited {
				t.Fatalf("send %d: %v", i, err)
			}
			limited++
		}
	}
	nc := sim.Counters().PerNumber[numberID]
	if limited == 0 || nc.MaxPerSecond > 5 || nc.Throttled != limited || nc.SecondsThrottled == 0 {
		t.Fatalf("12 sends at once on a 5 mps number: %d limited, counters %+v", limited, nc)
	}
}

func TestGetPhoneNumber(t *testing.T) {
	t.Parallel()
	_, c := newSim(t, metasim.Config{DefaultTier: 2000})
	p, err := c.GetPhoneNumber(context.Background(), token, numberID)
	if err != nil || p.QualityRating != "GREEN" || p.Throughput.Level != "STANDARD" || p.MessagingLimit != "TIER_2K" || p.ID != numberID {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := c.GetPhoneNumber(context.Background(), "nope", numberID); classOf(t, err) != whatsapp.StopChannel {
		t.Fatalf("bad token: %v", err)
	}
}

// A send that went out but got no answer is ambiguous; one that never left is safe to retry.
func TestTransportFailures(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t, metasim.Config{Faults: metasim.Faults{Timeout: 1}})
	_, err := c.SendTemplate(context.Background(), token, numberID, "+14155550100", orderTemplate(2), "m")
	var tr *whatsapp.TransportError
	if !errors.As(err, &tr) || !tr.Written || classOf(t, err) != whatsapp.Ambiguous {
		t.Fatalf("timeout: %v", err)
	}
	if recs := sim.Records(0, ""); len(recs) != 1 || !recs[0].Accepted() {
		t.Fatalf("the simulator took the message before timing out: %+v", recs)
	}

	sim.SetFaults(metasim.Faults{ServerError: 1})
	if _, err := c.SendTemplate(context.Background(), token, numberID, "+14155550101", orderTemplate(2), ""); classOf(t, err) != whatsapp.RetryNow {
		t.Fatalf("Meta's 500 (131000): %v", err)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	closed := whatsapp.NewClient("http://"+addr, "v23.0", time.Second)
	_, err = closed.SendTemplate(context.Background(), token, numberID, "+14155550100", orderTemplate(2), "")
	if !errors.As(err, &tr) || tr.Written || classOf(t, err) != whatsapp.RetryNow {
		t.Fatalf("connection refused: %v", err)
	}
}

// A WABA's templates come in pages, followed to the end; a token without the WABA is refused.
func TestMessageTemplates(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t, metasim.Config{})
	for i := range 130 {
		sim.AddTemplate(metasim.Template{Name: fmt.Sprintf("t%03d", i), Language: "en", Category: "marketing", Params: map[string]int{"body": 1}})
	}
	list, err := c.MessageTemplates(context.Background(), token, "200")
	if err != nil || len(list) != 131 {
		t.Fatalf("%d templates, %v; want 131 over two pages", len(list), err)
	}
	var order whatsapp.MessageTemplate
	for _, mt := range list {
		if mt.Name == "order_update" {
			order = mt
		}
	}
	if len(order.Components) != 2 || order.Components[0].Text != "Message {{1}} {{2}}" || len(order.Components[1].Buttons) != 2 ||
		order.Components[1].Buttons[1].Type != "URL" || order.Category != "UTILITY" {
		t.Errorf("order_update as listed: %+v", order)
	}
	if _, err := c.MessageTemplates(context.Background(), "nope", "200"); classOf(t, err) != whatsapp.StopChannel {
		t.Errorf("a bad token: %v", err)
	}
}
