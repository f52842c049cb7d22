// Package metrics holds Dripcast's Prometheus metrics of sending, in one place so their names and
// labels stay consistent. No label carries a phone number or another unbounded value: channels
// are labelled by their numeric id.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Sending is what the worker, the scheduler and the webhooks report.
type Sending struct {
	Sends          *prometheus.CounterVec   // channel, category, outcome
	MetaErrors     *prometheus.CounterVec   // code
	LimitDecisions *prometheus.CounterVec   // channel, decision
	SendDelay      *prometheus.HistogramVec // channel, kind (broadcast, drip): due time → send, the schedule lag
	Queued         *prometheus.CounterVec   // channel: messages the feeder queued
	FeederLag      *prometheus.GaugeVec     // channel: age of the oldest due pending message
	Throughput     *prometheus.GaugeVec     // channel: the messages a second the feeder plans for
	TierLimit      *prometheus.GaugeVec     // portfolio: unique recipients allowed per moving 24 h
	TierUsed       *prometheus.GaugeVec     // portfolio: unique recipients reached in the moving 24 h
	WebhookEvents  *prometheus.CounterVec   // kind
	WebhookApply   prometheus.Histogram     // seconds to apply one delivery
	WebhookLag     prometheus.Histogram     // from a status's time at Meta to its apply
	DripSteps      *prometheus.CounterVec   // outcome: what the drip engine did with a due enrollment
	Enrollments    prometheus.Counter       // contacts enrolled into sequences
	SetAside       *prometheus.CounterVec   // batch (sent, status): rows a batched write could not take
	Unknown        *prometheus.CounterVec   // how (worker_lost, webhook, requeued, grace): unknown sends and how they were settled
}

// New registers the metrics with reg.
func New(reg prometheus.Registerer) *Sending {
	m := &Sending{
		Sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_sends_total",
			Help: "Send attempts by channel, template category and outcome (sent, failed, unknown, skipped, rate_limited, deferred, retry)."},
			[]string{"channel", "category", "outcome"}),
		MetaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_meta_errors_total",
			Help: "Errors answered by the Cloud API, by Meta error code."}, []string{"code"}),
		LimitDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_limit_decisions_total",
			Help: "Limit checks by channel and decision (allowed, throughput, tier, pair, late, unvouched)."}, []string{"channel", "decision"}),
		SendDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dripcast_send_delay_seconds",
			Help:    "Schedule lag: from a message's due time to its send, by channel and kind (broadcast, drip).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900}}, []string{"channel", "kind"}),
		Queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_feeder_queued_total",
			Help: "Messages the feeder moved to the queue, by channel."}, []string{"channel"}),
		FeederLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dripcast_feeder_lag_seconds",
			Help: "Age of the oldest due message still pending, by channel (0 when none waits)."}, []string{"channel"}),
		Throughput: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dripcast_channel_throughput_limit",
			Help: "Messages a second the feeder plans for on a channel: its throughput, or a running broadcast's rate cap."}, []string{"channel"}),
		TierLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dripcast_portfolio_tier_limit",
			Help: "Unique recipients a portfolio may reach per moving 24 h (absent when unlimited)."}, []string{"portfolio"}),
		TierUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dripcast_portfolio_tier_used",
			Help: "Unique recipients a portfolio reached in the moving 24 h."}, []string{"portfolio"}),
		WebhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_webhook_events_total",
			Help: "Webhook events received by kind (status, inbound, opt_out, other)."}, []string{"kind"}),
		WebhookApply: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dripcast_webhook_apply_seconds",
			Help: "Time to verify and apply one webhook delivery.", Buckets: prometheus.DefBuckets}),
		WebhookLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dripcast_webhook_status_lag_seconds",
			Help:    "From a status's time at Meta to its apply here.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600}}),
		DripSteps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_drip_steps_total",
			Help: "Due enrollments the drip engine handled, by outcome (sent, skipped, waiting, exited, completed)."}, []string{"outcome"}),
		Enrollments: prometheus.NewCounter(prometheus.CounterOpts{Name: "dripcast_drip_enrollments_total",
			Help: "Contacts enrolled into sequences."}),
		SetAside: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_rows_set_aside_total",
			Help: "Rows a batched write could not take (kept in the set_aside table with their error), by batch (sent, status)."}, []string{"batch"}),
		Unknown: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_unknown_sends_total",
			Help: "Sends a dead worker left unknown (how=worker_lost), and unknown sends settled: by a status webhook (webhook), back to the queue because provably never written (requeued), concluded not sent after the grace period (grace)."},
			[]string{"how"}),
	}
	reg.MustRegister(m.Sends, m.MetaErrors, m.LimitDecisions, m.SendDelay, m.Queued, m.FeederLag, m.Throughput, m.TierLimit,
		m.TierUsed, m.WebhookEvents, m.WebhookApply, m.WebhookLag, m.DripSteps, m.Enrollments, m.SetAside, m.Unknown)
	return m
}

// Channel is the label of a channel.
func Channel(id int64) string { return strconv.FormatInt(id, 10) }
