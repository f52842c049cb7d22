package scheduler

import (
	"slices"
	"testing"
)

// Tasks of a slow and a fast number are queued in the order their paces let them go, each
// number's in its own order.
func TestByPace(t *testing.T) {
	var fed []paced
	for i, id := range []int64{1, 2, 3} { // 2 mps: at 0, 0.5, 1 s
		fed = append(fed, paced{id: id, at: float64(i) / 2})
	}
	for i, id := range []int64{10, 11, 12, 13, 14, 15} { // 5 mps: every 0.2 s
		fed = append(fed, paced{id: id, at: float64(i) / 5})
	}
	if got, want := byPace(fed), []int64{1, 10, 11, 12, 2, 13, 14, 3, 15}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
