package metrics

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// queueCollector reads Asynq's queues when Prometheus scrapes: their sizes by state and the age
// of the oldest pending task.
type queueCollector struct {
	inspector *asynq.Inspector
	size      *prometheus.Desc
	latency   *prometheus.Desc
	up        *prometheus.Desc
}

// NewQueueCollector reports every Asynq queue (a queue exists once it held a task).
func NewQueueCollector(inspector *asynq.Inspector) prometheus.Collector {
	return &queueCollector{inspector: inspector,
		size: prometheus.NewDesc("dripcast_queue_tasks", "Asynq tasks by queue and state (pending, active, scheduled, retry, archived).",
			[]string{"queue", "state"}, nil),
		latency: prometheus.NewDesc("dripcast_queue_latency_seconds", "Age of the oldest pending task of an Asynq queue.",
			[]string{"queue"}, nil),
		up: prometheus.NewDesc("dripcast_queue_up", "1 when Redis answered the queue inspection.", nil, nil)}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.latency
	ch <- c.up
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := c.inspector.Queues()
	up := 1.0
	if err != nil {
		up = 0
	}
	for _, q := range queues {
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			up = 0
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), q)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}
