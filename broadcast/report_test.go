package broadcast

import (
	"maps"
	"testing"

	"github.com/dripcast/dripcast/queries"
)

// The report counts unknown and not_sent sends, and every send that was unknown by how it was
// settled, whatever its status now; not_sent is final for the progress.
func TestReportTellsUnknownSettled(t *testing.T) {
	r := NewReport([]queries.BroadcastFunnelRow{
		{Status: queries.MessageStatusDelivered, N: 5},
		{Status: queries.MessageStatusDelivered, Settled: "webhook", N: 2},
		{Status: queries.MessageStatusRead, Settled: "requeued", N: 3},
		{Status: queries.MessageStatusNotSent, Reason: "not_sent", Settled: "grace", N: 4},
		{Status: queries.MessageStatusSent, Settled: "grace", N: 1}, // sent again after the grace
		{Status: queries.MessageStatusUnknown, Reason: "worker_lost", N: 6},
	}, 0)
	want := map[string]int64{"settled_by_webhook": 2, "requeued_before_send": 3, "not_sent_after_grace": 5}
	if !maps.Equal(r.UnknownSettled, want) || r.UnknownSettledTotal() != 10 || r.Unknown != 6 || r.NotSent != 4 || r.Progress != 1 {
		t.Fatalf("settled %v, unknown %d, not sent %d, progress %v", r.UnknownSettled, r.Unknown, r.NotSent, r.Progress)
	}
}
