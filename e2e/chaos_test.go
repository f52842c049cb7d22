package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
)

// outcome is what the invariants of a fault scenario are checked on: from Postgres and from
// metasim's log.
type outcome struct {
	messages   int // message rows
	duplicates int // message rows ((broadcast, contact) or (enrollment, step)) metasim accepted more than once
	lost       int // eligible recipients without a final message row (negative: more sent than the tier allowed)
	unknown    int // rows whose send's outcome is unknown (allowed; counted)
	breaches   int // sends metasim refused for tier or pair rate, or for throughput in more than one second (not injected faults)
	wrong      int // rows whose status is not what metasim did and posted, and report figures off a recount
	optedOut   int // marketing sends metasim accepted for contacts who had opted out
	recovered  time.Duration
}

// settle waits until every message of the account is final but the held ones (pending, waiting
// for the tier) and every webhook metasim meant to post is posted, and reads the outcome;
// audience is the eligible recipients, fault when the fault struck.
func (c *cluster) settle(audience, held int, fault time.Time, within time.Duration) outcome {
	c.t.Helper()
	ctx := context.Background()
	var o outcome
	deadline := time.Now().Add(within)
	for {
		var open, pending int
		_ = c.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status IN ('queued', 'sending')),
			count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'unknown') FROM messages`).Scan(&o.messages, &open, &pending, &o.unknown)
		if o.messages == audience && open == 0 && pending <= held { // fewer held than expected: a limit was not kept
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("messages not final within %s: %s; metasim %+v", within, c.states(), c.sim.Counters())
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.recovered = time.Since(fault)
	testenv.Eventually(c.t, "every webhook posted", within, func() bool { return c.sim.Counters().WebhooksPending == 0 })
	n := c.sim.Counters()
	var took []metasim.Record // the sends metasim accepted
	for _, r := range c.sim.Records(0, "") {
		if r.Accepted() {
			took = append(took, r)
		}
	}
	o.duplicates = duplicates(took)
	o.breaches = n.RefusedByCode[131056] + n.TierBreaches
	for _, nc := range n.PerNumber {
		// On two cores beside the other tests, a process stalls now and then for a quarter of a
		// second and its sends meet in one second; Dripcast sends again what Meta refuses, so one
		// such second is the harness's jitter, and a second one is a limiter that does not hold.
		if nc.SecondsThrottled > 1 {
			o.breaches += nc.Throttled
		}
	}
	if n.RefusedByCode[130429]+o.breaches > 0 {
		c.t.Logf("refused: throughput %d, pair rate %d, tier %d; per number %+v", n.RefusedByCode[130429], n.RefusedByCode[131056],
			n.TierBreaches, n.PerNumber)
	}
	var final int
	_ = c.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE status IN ('sent', 'delivered', 'read', 'failed', 'skipped', 'unknown', 'not_sent')`).Scan(&final)
	o.lost = audience - held - final
	o.wrong = c.wrongStatuses(took) + c.wrongReports()
	o.optedOut = c.optedOutSends(took)
	return o
}

// duplicates counts the message rows metasim took more than once (by the message id each send
// carries as its callback data).
func duplicates(took []metasim.Record) int {
	perRow := map[string]int{}
	for _, r := range took {
		perRow[r.Callback]++
	}
	n := 0
	for _, k := range perRow {
		if k > 1 {
			n++
		}
	}
	return n
}

// rank orders statuses as Dripcast does (message_rank in SQL).
var rank = map[string]int{"unknown": 3, "sent": 4, "failed": 5, "delivered": 6, "read": 7}

// wrongStatuses counts rows whose status is not the furthest metasim posted for their latest
// attempt (webhooks late, twice, out of order or lost), rows shown as sent that metasim never
// took, and rows that metasim took and posted nothing for that are neither sent nor unknown.
func (c *cluster) wrongStatuses(took []metasim.Record) int {
	best := map[string]string{} // message id → furthest status posted for its latest attempt
	latest := map[string]int{}  // message id → its latest attempt metasim took
	posted := c.sim.Posted()
	for _, r := range took {
		msg, attempt, _ := sendtask.ParseCallback(r.Callback)
		id := fmt.Sprint(msg)
		if a, seen := latest[id]; seen && a > attempt {
			continue
		}
		latest[id] = attempt
		st := ""
		for _, p := range posted[r.WAMID] {
			if rank[p] > rank[st] {
				st = p
			}
		}
		best[id] = st
	}
	rows, err := c.pool.Query(context.Background(), `SELECT id::text, status::text FROM messages`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	wrong := 0
	for rows.Next() {
		var id, status string
		_ = rows.Scan(&id, &status)
		want, took := best[id]
		switch {
		case !took && (status == "sent" || status == "delivered" || status == "read"),
			took && want != "" && status != want,
			took && want == "" && status != "sent" && status != "unknown":
			c.t.Logf("message %s is %s; metasim took it: %v, posted %q", id, status, took, want)
			wrong++
		}
	}
	return wrong
}

// funnelCounts are a report's figures recounted from message rows m: audience, sent, delivered,
// read, unknown, waiting.
const funnelCounts = `count(*),
	count(*) FILTER (WHERE m.status IN ('sent', 'delivered', 'read') OR m.status = 'failed' AND m.sent_at IS NOT NULL),
	count(*) FILTER (WHERE m.status IN ('delivered', 'read')), count(*) FILTER (WHERE m.status = 'read'),
	count(*) FILTER (WHERE m.status = 'unknown'), count(*) FILTER (WHERE m.status = 'pending')`

type funnel [6]float64

func funnelOf(r map[string]any) funnel {
	var f funnel
	for i, k := range []string{"audience", "sent", "delivered", "read", "unknown", "waiting"} {
		f[i], _ = r[k].(float64)
	}
	return f
}

// wrongReports counts the broadcast reports and sequence step reports whose figures differ from
// a recount of their rows. Messages held for the tier may be tried again (pending, queued,
// sending, pending) between a report and its recount: a difference must last 5 s to count.
func (c *cluster) wrongReports() int {
	var off []string
	for range 25 {
		if off = c.reportsOffRecount(); len(off) == 0 {
			return 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, o := range off {
		c.t.Log(o)
	}
	return len(off)
}

// reportsOffRecount describes each report whose figures differ from a recount of its rows.
func (c *cluster) reportsOffRecount() []string {
	var off []string
	compare := func(what string, got, want funnel) {
		if got != want {
			off = append(off, fmt.Sprintf("%s: report %v, recount %v (audience, sent, delivered, read, unknown, waiting)", what, got, want))
		}
	}
	for key, want := range c.recount(`SELECT m.broadcast_id, 0, ` + funnelCounts + ` FROM messages m WHERE m.broadcast_id IS NOT NULL GROUP BY 1`) {
		compare(fmt.Sprint("broadcast ", key[0]), funnelOf(c.report(key[0])), want)
	}
	steps := c.recount(`SELECT e.sequence_id, m.step, ` + funnelCounts + ` FROM messages m JOIN enrollments e ON e.id = m.enrollment_id GROUP BY 1, 2`)
	reported := map[[2]int64]funnel{}
	for key := range steps {
		rep := c.call("GET", fmt.Sprintf("/v1/sequences/%d/report", key[0]), nil, 200)["report"].(map[string]any)
		for _, st := range rep["steps"].([]any) {
			m := st.(map[string]any)
			reported[[2]int64{key[0], int64(m["step"].(float64))}] = funnelOf(m)
		}
	}
	for key, want := range steps {
		compare(fmt.Sprintf("sequence %d step %d", key[0], key[1]), reported[key], want)
	}
	return off
}

// recount runs a query of (id, step, the funnelCounts) rows.
func (c *cluster) recount(sql string) map[[2]int64]funnel {
	rows, err := c.pool.Query(context.Background(), sql)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	out := map[[2]int64]funnel{}
	for rows.Next() {
		var key [2]int64
		var f funnel
		if err := rows.Scan(&key[0], &key[1], &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]); err != nil {
			c.t.Fatal(err)
		}
		out[key] = f
	}
	return out
}

// optedOutSends counts the marketing sends metasim took for contacts who are not opted in (a
// utility template needs no opt-in).
func (c *cluster) optedOutSends(took []metasim.Record) int {
	rows, err := c.pool.Query(context.Background(), `SELECT substr(phone, 2) FROM contacts WHERE NOT opted_in`)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]bool{}
	for rows.Next() {
		var p string
		_ = rows.Scan(&p)
		out[p] = true
	}
	rows.Close()
	n := 0
	for _, r := range took {
		if r.Category == "marketing" && out[r.To] {
			n++
		}
	}
	return n
}

// check fails the test on a broken invariant, and logs the outcome as a row of `make chaos`'s
// table (CHAOS|scenario|messages|duplicates|lost|unknown|breaches|wrong|opted out|seconds to recover).
func (o outcome) check(t testing.TB) {
	t.Helper()
	t.Logf("CHAOS|%s|%d|%d|%d|%d|%d|%d|%d|%.1f", strings.TrimPrefix(t.Name(), "TestChaos"), o.messages, o.duplicates, o.lost, o.unknown,
		o.breaches, o.wrong, o.optedOut, o.recovered.Seconds())
	if o.lost != 0 || o.breaches != 0 || o.duplicates > o.unknown || o.wrong != 0 || o.optedOut != 0 {
		t.Fatalf("invariants broken: %+v", o)
	}
}

// chaos is a cluster set up for a fault scenario: one number metasim limits to mps, of which
// Dripcast is told 85 % (the tests run beside the other packages' tests on two cores, where
// metasim stamps sends with more jitter than the limiter's margin allows: at 90 % under the race
// detector, a stall of a tenth of a second now and then pushed 18 sends into the next second;
// BenchmarkRateAccuracy measures the limiter's own margin), and contacts in groups g0, g1, … of
// which every 25th has opted out.
type chaos struct {
	*cluster
	mps, tier         int
	channel, template int64
}

// newChaos makes the cluster; tier 0 is unlimited. Drip delays run 7,200 times faster (an hour
// in half a second); metasim checks the pair rate (6 s of its time). A claim 15 s in sending is
// settled as unknown: a live worker hands back its claims through a 3 s outage of Postgres
// within about 6 s (the outage, its write's back-off of up to 2 s, a new connection), longer on a
// loaded machine, and with 5 s a restart of Postgres left a few claims unknown in CI.
func newChaos(t *testing.T, simCfg metasim.Config, mps, tier int, env ...string) *chaos {
	return newChaosOn(t, testenv.DatabaseURL(t), simCfg, mps, tier, env...)
}

// newChaosOn is newChaos on a migrated database of the test's own.
func newChaosOn(t *testing.T, dbURL string, simCfg metasim.Config, mps, tier int, env ...string) *chaos {
	simCfg.TimeScale = 100
	simCfg.DefaultTier = tier
	simCfg.PairInterval = 6 * time.Second
	env = append([]string{"DRIPCAST_SENDING_TIMEOUT=15s", "DRIPCAST_META_TIMEOUT=2s", fmt.Sprint("DRIPCAST_DRIP_TIME_SCALE=", dripScale)}, env...)
	c := &chaos{cluster: newClusterOn(t, dbURL, simCfg, true, env...), mps: mps, tier: tier}
	c.sim.AddTemplate(metasim.Template{Name: "welcome", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
	return c
}

// drip enrolls the contacts tagged tag in a sequence of two utility steps an hour apart (half a
// second), through the API.
func (c *chaos) drip(tag string) {
	tpl := c.stack.template("welcome", map[string]any{"source": "contact", "field": "first_name", "fallback": "there"})
	seq := c.sequence(map[string]any{"name": "Welcome " + tag, "channel_id": c.channel, "steps": []map[string]any{
		{"template_id": tpl}, {"template_id": tpl, "delay": map[string]any{"amount": 1, "unit": "hours"}}}})
	rows, err := c.pool.Query(context.Background(), `SELECT phone FROM contacts WHERE $1 = ANY(tags)`, tag)
	if err != nil {
		c.t.Fatal(err)
	}
	phones, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(phones) == 0 {
		c.t.Fatalf("contacts tagged %s: %v %v", tag, phones, err)
	}
	for _, p := range phones {
		c.call("POST", fmt.Sprintf("/v1/sequences/%d/enrollments", seq), map[string]any{"phone": p}, 201)
	}
}

// number registers the number (through the API, which must be running).
func (c *chaos) number() {
	channels, template := c.setupNumbers(c.mps)
	c.channel, c.template = channels[0], template
	c.call("PATCH", fmt.Sprintf("/v1/channels/%d", c.channel), map[string]any{"throughput_mps": c.mps * 85 / 100}, 200)
	if c.tier > 0 {
		var portfolio int64
		_ = c.pool.QueryRow(context.Background(), `SELECT portfolio_id FROM channels WHERE id = $1`, c.channel).Scan(&portfolio)
		c.call("PUT", fmt.Sprintf("/v1/portfolios/%d", portfolio), map[string]any{"name": "Main", "tier": c.tier}, 200)
	}
}

// startAll runs an api, a scheduler and two workers, registers the number and imports the
// contacts.
func (c *chaos) startAll(groups ...int) []*proc {
	procs := []*proc{c.start("api"), c.start("scheduler"), c.start("worker"), c.start("worker")}
	c.number()
	c.importGroups(groups...)
	if _, err := c.pool.Exec(context.Background(), `UPDATE contacts SET opted_in = false WHERE id % 25 = 0`); err != nil {
		c.t.Fatal(err)
	}
	return procs
}

func (c *chaos) broadcast(tag string) {
	c.call("POST", "/v1/broadcasts", map[string]any{"name": "Chaos " + tag, "channel_id": c.channel, "template_id": c.template,
		"audience": map[string]any{"tag": tag}}, 201)
}

// sending waits until metasim has taken n sends.
func (c *chaos) sending(n int) {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for c.sim.Counters().Accepted <= n {
		if time.Now().After(deadline) {
			c.t.Fatalf("sending: metasim took %d sends, not %d, within a minute; messages: %s; refused %v",
				c.sim.Counters().Accepted, n+1, c.states(), c.sim.Counters().RefusedByCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill -9 of a worker mid-broadcast, five times over (a new worker after each), with drip steps
// due too: nothing lost, nothing sent twice, and once the grace period (10 s here) passed nothing
// unknown. What a killed worker provably never wrote went back to the queue at once; the rest of
// its claims were concluded not sent from the number's later statuses and, the account having
// opted in, sent: metasim took each recipient's message exactly once.
func TestChaosWorkerKilled(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0, "DRIPCAST_UNKNOWN_GRACE=10s", "DRIPCAST_WORKER_DEAD_AFTER=2s")
	procs := c.startAll(2000, 200)
	c.call("PUT", "/v1/account/settings", map[string]any{"resend_not_sent": true}, 200)
	// The drip's 200 enrollments (one API call each) go first: made while the broadcast sent, they
	// once took so long on a loaded machine that too few sends were left for the five kills.
	c.drip("g1")
	c.broadcast("g0")
	fault := c.killWorkers(procs[2:4], 5)
	testenv.Eventually(t, "no message unknown", 2*time.Minute, func() bool { return c.count(`status IN ('unknown', 'not_sent')`) == 0 })
	o := c.settle(2000+2*200, 0, fault, 2*time.Minute)
	o.check(t)
	if o.unknown != 0 || o.duplicates != 0 {
		t.Fatalf("unknown %d, duplicates %d: want none", o.unknown, o.duplicates)
	}
	if took, want := c.tookOnce(), c.count(`status <> 'skipped'`); took != want {
		t.Fatalf("metasim took %d messages once each, want every one of the %d not skipped", took, want)
	}
	t.Logf("settled: %s", c.settledCounts())
}

// Smart retries and the Marketing Messages API through two kill -9s of a worker and Meta's
// webhook faults (shuffled, duplicated, late): Meta refuses the number the API (its business is
// not onboarded), so the broadcast goes through Cloud API; every 20th recipient cannot be reached
// at first (131000) and gets the message from a retry 16 h later (8 s here). Nothing lost, no
// attempt taken twice, nobody delivered twice, every row as metasim saw its latest attempt.
func TestChaosRetriesAndMarketingMessages(t *testing.T) {
	unreachable := map[string]int{}
	for i := 0; i < 1000; i += 20 {
		unreachable[strings.TrimPrefix(phoneOf(i), "+")] = 131000
	}
	c := newChaos(t, metasim.Config{DuplicateShare: 0.2, Shuffle: true, LateShare: 0.1, LateDelay: 5 * time.Second, FailFirst: unreachable},
		200, 0, "DRIPCAST_UNKNOWN_GRACE=10s", "DRIPCAST_WORKER_DEAD_AFTER=2s")
	procs := c.startAll(1000)
	c.call("PUT", "/v1/account/settings", map[string]any{"resend_not_sent": true, "retry": map[string]any{"mode": "smart", "days": 2}}, 200)
	c.call("PATCH", fmt.Sprintf("/v1/channels/%d", c.channel), map[string]any{"marketing_messages": true}, 200)
	c.broadcast("g0")
	fault := c.killWorkers(procs[2:4], 2)
	var retried int // the unreachable who are opted in
	_ = c.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE opted_in AND substr(phone, 2) = ANY($1)`,
		slices.Collect(maps.Keys(unreachable))).Scan(&retried)
	testenv.Eventually(t, "the retries delivered", 3*time.Minute, func() bool {
		return c.count(`retries > 0 AND status IN ('delivered', 'read')`) == retried
	})
	testenv.Eventually(t, "no message unknown", 2*time.Minute, func() bool { return c.count(`status IN ('unknown', 'not_sent')`) == 0 })
	o := c.settle(1000, 0, fault, 2*time.Minute)
	o.check(t)
	delivered := map[string]int{}
	for _, r := range c.sim.Records(0, "") {
		if r.Accepted() && r.FailCode == 0 {
			delivered[r.To]++
		}
		if r.MarketingMessages {
			t.Errorf("a send through the Marketing Messages API of a business not onboarded: %+v", r)
		}
	}
	for to, n := range delivered {
		if n > 1 {
			t.Errorf("%s got the broadcast %d times", to, n)
		}
	}
	var mm string
	_ = c.pool.QueryRow(context.Background(), `SELECT marketing_messages FROM channels WHERE id = $1`, c.channel).Scan(&mm)
	if mm != "refused" || o.unknown != 0 {
		t.Errorf("the channel's Marketing Messages API %s, unknown %d", mm, o.unknown)
	}
}

// The same crash with Meta's webhooks held from just before it: with no status of the number's
// later sends, nothing is concluded after the grace period; the killed worker's claims that may
// have been written stay unknown (those it provably never wrote were requeued and sent). When the
// webhooks come back, the later sends' statuses carry metasim's times (its clock runs 100 times
// faster, so Dripcast takes them as received now): past the grace period, they are no evidence
// either, and nothing is sent twice.
func TestChaosWorkerKilledWebhooksHeld(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0, "DRIPCAST_UNKNOWN_GRACE=3s", "DRIPCAST_WORKER_DEAD_AFTER=2s")
	procs := c.startAll(1000)
	c.call("PUT", "/v1/account/settings", map[string]any{"resend_not_sent": true}, 200)
	c.broadcast("g0")
	c.sending(300)
	c.sim.HoldWebhooks(true)
	fault := c.killWorkers(procs[2:4], 1)
	testenv.Eventually(t, "the killed worker's claims settled", time.Minute, func() bool {
		return c.count(`status = 'sending'`) == 0 &&
			c.count(`status IN ('queued', 'pending')`) == 0
	})
	unknown := c.count(`status = 'unknown'`)
	time.Sleep(10 * time.Second) // more than three grace periods
	if n := c.count(`settled = 'grace'`); n != 0 || c.count(`status = 'unknown'`) != unknown {
		t.Fatalf("concluded without evidence: %d by grace; unknown %d, was %d", n, c.count(`status = 'unknown'`), unknown)
	}
	c.sim.HoldWebhooks(false)
	o := c.settle(1000, 0, fault, 2*time.Minute)
	o.check(t)
	if n := c.count(`settled = 'grace'`); o.duplicates != 0 || n != 0 {
		t.Fatalf("duplicates %d, concluded by grace %d: want none", o.duplicates, n)
	}
	t.Logf("unknown while the webhooks were held: %d; settled: %s", unknown, c.settledCounts())
}

// killWorkers kills a worker with kill -9 n times, 300 accepted sends apart, starting a new one
// after each; it answers when the last kill struck.
func (c *chaos) killWorkers(workers []*proc, n int) time.Time {
	c.t.Helper()
	var fault time.Time
	from := c.sim.Counters().Accepted
	for i := range n {
		c.sending(from + 300*(i+1))
		workers[i%len(workers)].kill()
		fault = time.Now()
		workers[i%len(workers)] = c.start("worker")
	}
	return fault
}

// count counts the message rows matching a condition.
func (c *chaos) count(where string) int {
	c.t.Helper()
	var n int
	if err := c.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE `+where).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// tookOnce counts the message rows metasim accepted exactly once.
func (c *chaos) tookOnce() int {
	perRow := map[string]int{}
	for _, r := range c.sim.Records(0, "") {
		if r.Accepted() {
			perRow[r.Callback]++
		}
	}
	n := 0
	for _, k := range perRow {
		if k == 1 {
			n++
		}
	}
	return n
}

// settledCounts says how the unknown sends were settled.
func (c *chaos) settledCounts() string {
	rows, err := c.pool.Query(context.Background(), `SELECT settled::text, count(*) FROM messages WHERE settled IS NOT NULL GROUP BY 1 ORDER BY 1`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var how string
		var n int
		_ = rows.Scan(&how, &n)
		out = append(out, fmt.Sprintf("%s %d", how, n))
	}
	return strings.Join(out, ", ")
}

// kill -9 of the scheduler leader: the standby leads within seconds and the broadcast completes.
func TestChaosSchedulerLeaderKilled(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0)
	procs := c.startAll(2000)
	standby := c.start("scheduler")
	c.broadcast("g0")
	c.sending(300)
	procs[1].kill()
	fault := time.Now()
	testenv.Eventually(t, "the standby leads", 15*time.Second, func() bool { return standby.metric("dripcast_scheduler_leader") == 1 })
	t.Logf("takeover in %s", time.Since(fault).Round(time.Millisecond))
	c.settle(2000, 0, fault, 2*time.Minute).check(t)
}

// SIGTERM to a worker mid-broadcast: it finishes its sends or hands them back; no row is left
// in sending, none is unknown.
func TestChaosWorkerStopped(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0)
	procs := c.startAll(2000)
	c.broadcast("g0")
	c.sending(500)
	fault := time.Now()
	procs[2].stop(t, 30*time.Second)
	o := c.settle(2000, 0, fault, 2*time.Minute)
	o.check(t)
	if o.unknown != 0 {
		t.Fatalf("a graceful stop left %d messages unknown", o.unknown)
	}
}

// A broadcast whose time passed while every process was down starts when they come back.
func TestChaosDueWhileDown(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0)
	api := c.start("api")
	c.number()
	c.importGroups(300)
	c.call("POST", "/v1/broadcasts", map[string]any{"name": "Overnight", "channel_id": c.channel, "template_id": c.template,
		"audience": map[string]any{"tag": "g0"}, "send_at": time.Now().Add(2 * time.Second)}, 201)
	api.stop(t, 30*time.Second)
	time.Sleep(3 * time.Second)
	back := time.Now()
	c.start("api")
	c.start("scheduler")
	c.start("worker")
	c.settle(300, 0, back, time.Minute).check(t)
}

// Meta misbehaves throughout: 5xx, 130429 and timeouts after the message went out, then a storm
// of 5xx and a burst of 130429; webhooks come twice, out of order, minutes late (in metasim's
// time) or never. Nothing is sent twice but what timed out, and every row ends as Meta's
// webhooks said.
func TestChaosMetaFaults(t *testing.T) {
	c := newChaos(t, metasim.Config{SentDelay: time.Second, DeliveredDelay: 5 * time.Second, ReadDelay: 30 * time.Second, ReadShare: 0.5,
		DuplicateShare: 0.2, Shuffle: true, LoseShare: 0.05, LateShare: 0.1, LateDelay: 5 * time.Second,
		Faults: metasim.Faults{ServerError: 0.05, RateLimited: 0.03, Timeout: 0.01}}, 200, 0)
	c.startAll(1000)
	c.broadcast("g0")
	c.sending(300)
	fault := time.Now()
	c.sim.SetFaults(metasim.Faults{ServerError: 0.9})
	time.Sleep(2 * time.Second)
	c.sim.SetFaults(metasim.Faults{RateLimited: 0.9})
	time.Sleep(2 * time.Second)
	c.sim.SetFaults(metasim.Faults{ServerError: 0.05, RateLimited: 0.03, Timeout: 0.01})
	c.settle(1000, 0, fault, 3*time.Minute).check(t)
	t.Logf("metasim injected %v", c.sim.Counters().Injected)
}

// Redis wiped mid-broadcast (FLUSHDB of Dripcast's database: every task and the limiter's
// state): the queued messages are fed again within seconds, and the tier's recipients come back
// from Postgres, so a second broadcast after the wipe gets only what is left of the tier.
func TestChaosRedisWiped(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 2000)
	c.startAll(1500, 1000)
	c.broadcast("g0")
	c.sending(600)
	if err := c.rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()
	defer func() {
		if t.Failed() {
			t.Logf("messages: %s", c.states())
		}
	}()
	testenv.Eventually(t, "the first broadcast sent", time.Minute, func() bool { return c.sim.Counters().Accepted >= 1440 })
	c.broadcast("g1")
	var eligible int
	_ = c.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts WHERE opted_in`).Scan(&eligible)
	c.settle(2500, eligible-2000, fault, 2*time.Minute).check(t)
}

// Redis restarted without persistence mid-broadcast: connections drop, none can be made for 3 s,
// and it comes back empty.
func TestChaosRedisRestarted(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0)
	_, rd := c.faultable()
	c.restart(rd, func() {
		if err := c.rdb.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

// Postgres restarted mid-broadcast: connections drop (transactions in flight abort) and none can
// be made for 3 s. Messages claimed but not sent go back to the queue, even when the claim's or
// the release's answer was lost: none ends unknown.
func TestChaosPostgresRestarted(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0)
	pg, _ := c.faultable()
	if o := c.restart(pg, func() {}); o.unknown != 0 {
		t.Fatalf("a restart of Postgres left %d messages unknown: Meta never got them", o.unknown)
	}
}

// restart takes the server behind p away for 3 s while a broadcast to 2,000 contacts sends
// (whileDown runs as it goes), checks the invariants, and that the processes reconnected through p.
func (c *chaos) restart(p *testenv.Proxy, whileDown func()) outcome {
	c.t.Helper()
	c.startAll(2000)
	c.broadcast("g0")
	c.sending(500)
	before := p.Accepted()
	p.Down()
	fault := time.Now()
	whileDown()
	time.Sleep(3 * time.Second)
	p.Up()
	o := c.settle(2000, 0, fault, 2*time.Minute)
	o.check(c.t)
	if p.Accepted() == before {
		c.t.Fatal("no process reconnected: the proxy was not in the way")
	}
	return o
}

// Postgres and Redis answer slowly (every packet 20 ms late, both ways) for 5 s mid-broadcast.
func TestChaosSlowConnections(t *testing.T) {
	c := newChaos(t, metasim.Config{}, 200, 0)
	pg, rd := c.faultable()
	c.startAll(2000)
	c.broadcast("g0")
	c.sending(500)
	fault := time.Now()
	pg.Slow(20 * time.Millisecond)
	rd.Slow(20 * time.Millisecond)
	before := c.sim.Counters().Accepted
	time.Sleep(5 * time.Second)
	during := c.sim.Counters().Accepted - before
	pg.Slow(0)
	rd.Slow(0)
	t.Logf("%d sends in the 5 slow seconds", during)
	c.settle(2000, 0, fault, 2*time.Minute).check(t)
}

// kill -9 of one of two API processes while status webhooks flow through a load balancer to
// both: the webhooks it failed to apply are posted again (Meta retries), and every row ends as
// the webhooks said.
func TestChaosAPIKilled(t *testing.T) {
	c := newChaos(t, metasim.Config{SentDelay: time.Second, DeliveredDelay: 3 * time.Second, ReadDelay: 10 * time.Second, ReadShare: 0.8}, 200, 0)
	lb := c.balance()
	a, b := c.start("api"), c.start("api")
	lb.to(a, b)
	c.start("scheduler")
	c.start("worker")
	c.start("worker")
	c.number()
	c.importGroups(2000)
	c.broadcast("g0")
	c.sending(800)
	failures := c.sim.Counters().WebhookFailures
	a.kill()
	fault := time.Now()
	time.Sleep(2 * time.Second)
	lb.to(c.start("api"), b)
	o := c.settle(2000, 0, fault, 2*time.Minute)
	o.check(t)
	if c.sim.Counters().WebhookFailures == failures {
		t.Fatal("no webhook post failed while an API process was down")
	}
}

// A balancer passes the requests to the cluster's API address (where metasim posts webhooks) to
// API processes in turn, as a load balancer without health checks would: a request to a dead one
// fails.
type balancer struct {
	mu    sync.Mutex
	next  int
	addrs []string
}

// balance serves the cluster's API address; set its processes with to. Start it before the API
// processes, which then take addresses of their own.
func (c *cluster) balance() *balancer {
	b := &balancer{}
	ln, err := net.Listen("tcp", strings.TrimPrefix(c.api, "http://"))
	if err != nil {
		c.t.Fatal(err)
	}
	srv := &http.Server{Handler: &httputil.ReverseProxy{Rewrite: b.rewrite, ErrorLog: log.New(io.Discard, "", 0)}}
	go srv.Serve(ln)
	c.t.Cleanup(func() { srv.Close() })
	return b
}

func (b *balancer) to(procs ...*proc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addrs = nil
	for _, p := range procs {
		b.addrs = append(b.addrs, p.addr)
	}
}

func (b *balancer) rewrite(r *httputil.ProxyRequest) {
	b.mu.Lock()
	defer b.mu.Unlock()
	addr := "127.0.0.1:1" // nothing listens: 502
	if len(b.addrs) > 0 {
		addr = b.addrs[b.next%len(b.addrs)]
		b.next++
	}
	r.SetURL(&url.URL{Scheme: "http", Host: addr})
}

// metric reads a gauge or counter without labels from the process's /metrics.
func (p *proc) metric(name string) float64 {
	res, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var v float64
		if _, err := fmt.Sscanf(sc.Text(), name+" %g", &v); err == nil {
			return v
		}
	}
	return -1
}
