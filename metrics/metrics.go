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
	SendDelay      *prometheus.HistogramVec // channel: due time → send
	Queued         *prometheus.CounterVec   // channel: messages the feeder queued
	FeederLag      *prometheus.GaugeVec     // channel: age of the oldest due pending message
	WebhookEvents  *prometheus.CounterVec   // kind
	WebhookApply   prometheus.Histogram     // seconds to apply one delivery
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
			Help: "Limit checks by channel and decision (allowed, throughput, tier, pair)."}, []string{"channel", "decision"}),
		SendDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dripcast_send_delay_seconds",
			Help:    "From a message's due time to its send.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900}}, []string{"channel"}),
		Queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_feeder_queued_total",
			Help: "Messages the feeder moved to the queue, by channel."}, []string{"channel"}),
		FeederLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dripcast_feeder_lag_seconds",
			Help: "Age of the oldest due message still pending, by channel (0 when none waits)."}, []string{"channel"}),
		WebhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dripcast_webhook_events_total",
			Help: "Webhook events received by kind (status, inbound, opt_out, other)."}, []string{"kind"}),
		WebhookApply: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dripcast_webhook_apply_seconds",
			Help: "Time to verify and apply one webhook delivery.", Buckets: prometheus.DefBuckets}),
	}
	reg.MustRegister(m.Sends, m.MetaErrors, m.LimitDecisions, m.SendDelay, m.Queued, m.FeederLag, m.WebhookEvents, m.WebhookApply)
	return m
}

// Channel is the label of a channel.
func Channel(id int64) string { return strconv.FormatInt(id, 10) }
