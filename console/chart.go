package console

import (
	"time"

	"github.com/dripcast/dripcast/broadcast"
	"github.com/dripcast/dripcast/queries"
)

// Chart geometry (SVG user units): one bar per second of the last minute.
const (
	chartW       = 600
	chartH       = 160
	chartSeconds = 60
	barW         = chartW / chartSeconds
)

// chart is the sends-per-second chart, drawn as SVG on the server: no script, no inline style.
type chart struct {
	W, H   int
	Bars   []bar
	Limit  int32 // the number's limit (or the rate cap), as a line
	LimitY int
	Max    int64 // the top of the scale
	Last   int64 // sends in the last whole second
}

type bar struct{ X, Y, W, H int }

func newChart(secs []queries.SendsPerSecondRow, limit int32, now time.Time) chart {
	c := chart{W: chartW, H: chartH, Limit: limit, Max: int64(limit)}
	counts := map[int64]int64{}
	for _, s := range secs {
		counts[s.Second] = s.N
		c.Max = max(c.Max, s.N)
	}
	c.Max = max(c.Max, 1)
	start := now.Unix() - chartSeconds
	for i := range chartSeconds {
		n := counts[start+int64(i)]
		h := int(n * chartH / c.Max)
		c.Bars = append(c.Bars, bar{X: i * barW, Y: chartH - h, W: barW - 1, H: h})
	}
	c.Last = counts[now.Unix()-1]
	c.LimitY = chartH - int(int64(limit)*chartH/c.Max)
	return c
}

// funnelBar is one stage of the report's funnel chart, as a share of the audience.
type funnelBar struct {
	Label string
	N     int64
	Pct   int
}

func funnelBars(r broadcast.Report) []funnelBar {
	var failed, skipped int64
	for _, n := range r.Failed {
		failed += n
	}
	for _, n := range r.Skipped {
		skipped += n
	}
	stages := []funnelBar{{"Audience", r.Audience, 0}, {"Sent", r.Sent, 0}, {"Delivered", r.Delivered, 0}, {"Read", r.Read, 0},
		{"Replied", r.Replied, 0}, {"Failed", failed, 0}, {"Skipped", skipped, 0}}
	for i := range stages {
		stages[i].Pct = progress(stages[i].N, r.Audience)
	}
	return stages
}
