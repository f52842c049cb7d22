package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dripcast/dripcast/metasim"
)

// dripScale is DRIPCAST_DRIP_TIME_SCALE in the demo: a day of a sequence passes in 6 seconds.
const dripScale = 14400

// Demo shoppers: the first contacts of the import place an order, the first few of them reply.
const (
	dripOrders  = 100
	dripReplies = 10
)

// startDrip sets up a post-purchase sequence and sends order events for the first contacts; it
// runs while the broadcast does. A few buyers reply to the first message and leave the sequence.
func (d *demo) startDrip(ctx context.Context, channel int64) (int64, error) {
	d.step("A drip sequence: order thanks at once, a review request a day later, a reorder offer a day after that")
	fmt.Fprintf(d.out, "  (a day of the sequence passes in %s: DRIPCAST_DRIP_TIME_SCALE=%d)\n", 24*time.Hour/dripScale, dripScale)
	thanks, err := d.dripTemplate("order_thanks", "utility", "Thanks {{1}}! Order {{2}} is confirmed.",
		map[string]any{"body.1": firstName, "body.2": map[string]any{"source": "event", "key": "order_id"}})
	if err != nil {
		return 0, err
	}
	review, err := d.dripTemplate("review_request", "utility", "How was order {{1}}? Reply to tell us.",
		map[string]any{"body.1": map[string]any{"source": "event", "key": "order_id"}})
	if err != nil {
		return 0, err
	}
	reorder, err := d.dripTemplate("reorder_offer", "marketing", "Running low, {{1}}? Take 10% off your next order with AGAIN10.",
		map[string]any{"body.1": firstName})
	if err != nil {
		return 0, err
	}
	day := map[string]any{"amount": 1, "unit": "days"}
	var seq struct{ ID int64 }
	if err := d.callJSON("POST", "/v1/sequences", map[string]any{"name": "Post-purchase", "channel_id": channel,
		"trigger": map[string]any{"event": "order.placed"}, "exit": map[string]any{"on_reply": true},
		"steps": []any{map[string]any{"template_id": thanks}, map[string]any{"template_id": review, "delay": day},
			map[string]any{"template_id": reorder, "delay": day}}}, &seq); err != nil {
		return 0, err
	}
	if err := d.callJSON("POST", fmt.Sprintf("/v1/sequences/%d/activate", seq.ID), nil, &struct{}{}); err != nil {
		return 0, err
	}
	for i := range dripOrders {
		var out struct{}
		if err := d.callJSON("POST", "/v1/events", map[string]any{"contact": map[string]any{"phone": demoPhone(i)},
			"name": "order.placed", "id": fmt.Sprint("order-", 1000+i), "properties": map[string]any{"order_id": fmt.Sprint("#", 1000+i)}}, &out); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(d.out, "  %d order.placed events sent to POST /v1/events\n", dripOrders)
	return seq.ID, d.replies(ctx)
}

var firstName = map[string]any{"source": "contact", "field": "first_name", "fallback": "there"}

func (d *demo) dripTemplate(name, category, body string, params map[string]any) (int64, error) {
	d.sim.AddTemplate(metasim.Template{Name: name, Language: "en", Category: category, Params: map[string]int{"body": len(params)}})
	var t struct{ ID int64 }
	err := d.callJSON("POST", "/v1/templates", map[string]any{"name": name, "language": "en", "category": category,
		"components": map[string]any{"body": map[string]any{"text": body}}, "parameters": params}, &t)
	return t.ID, err
}

// replies waits for the first buyers' order thanks, then has them answer it.
func (d *demo) replies(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for i := range dripReplies {
		for len(d.sim.Records(0, demoPhone(i))) == 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := d.sim.Inbound(metasim.Inbound{PhoneNumberID: demoNumberID, From: demoPhone(i), Text: "Thank you, love it!"}); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "  %d buyers replied to their order thanks: they leave the sequence (exit on reply)\n", dripReplies)
	return nil
}

// dripSummary waits for the sequence's contacts to finish and their last steps to go out, and
// shows where they went.
func (d *demo) dripSummary(ctx context.Context, seq int64) error {
	d.step("The drip sequence")
	var out struct {
		Report struct {
			Enrolled   int64            `json:"enrolled"`
			InProgress int64            `json:"in_progress"`
			Completed  int64            `json:"completed"`
			Exited     map[string]int64 `json:"exited"`
			Steps      []struct {
				Step                     int
				Sent, Delivered, Read    int64
				Waiting, Queued, Sending int64
				Failed                   map[string]int64
			}
		}
	}
	// Each step waits its day from when the one before was sent, so on a loaded machine the
	// sends' lag adds up over the three steps: wait for them, for a while.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if err := d.call("GET", fmt.Sprintf("/v1/sequences/%d/report", seq), "", nil, &out); err != nil {
			return err
		}
		unsent := int64(0)
		for _, s := range out.Report.Steps {
			unsent += s.Waiting + s.Queued + s.Sending
		}
		if out.Report.InProgress+unsent == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	r := out.Report
	var exits []string
	for reason, n := range r.Exited {
		exits = append(exits, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(exits)
	fmt.Fprintf(d.out, "    %-24s %d\n    %-24s %d\n    %-24s %s\n", "enrolled", r.Enrolled, "completed", r.Completed,
		"exited", strings.Join(exits, ", "))
	names := []string{"order thanks", "review request", "reorder offer"}
	for _, s := range r.Steps {
		fmt.Fprintf(d.out, "    step %d %-17s sent %d  delivered %d  read %d  failed %d\n", s.Step+1, names[s.Step],
			s.Sent, s.Delivered, s.Read, sum(s.Failed))
	}
	fmt.Fprintf(d.out, "  (contacts without marketing consent leave before the reorder offer: exit reason opted_out)\n")
	return nil
}

// demoPhone is the i-th imported contact's number.
func demoPhone(i int) string { return fmt.Sprintf("+9198%03d%05d", i/100000, i%100000) }
