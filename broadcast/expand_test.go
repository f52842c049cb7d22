package broadcast

import (
	"context"
	"sync"
	"testing"

	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
)

// Two expansions of one broadcast at once, and one started from a stale copy of the broadcast
// (its cursor behind the committed one), write each contact's row once and both succeed.
func TestExpandTwiceWritesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.DB(t)
	n := 2*ExpandChunk + 500
	acct, channel, tpl := expansionSetup(t, pool, n)
	q := queries.New(pool)
	bc, err := q.CreateBroadcast(ctx, queries.CreateBroadcastParams{AccountID: acct, ChannelID: channel, TemplateID: tpl,
		Name: "b", Status: "running", Audience: []byte(`{"tag":"all"}`), Parameters: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := Expand(ctx, pool, bc); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := Expand(ctx, pool, bc); err != nil { // bc still says cursor 0
		t.Fatal(err)
	}
	var rows, contacts, skipped int
	err = pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT contact_id), count(*) FILTER (WHERE status = 'skipped' AND reason = 'opted_out')
		FROM messages WHERE broadcast_id = $1`, bc.ID).Scan(&rows, &contacts, &skipped)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || contacts != n || skipped != n/4 {
		t.Fatalf("%d rows for %d contacts (%d distinct), %d skipped as opted out (want %d)", rows, n, contacts, skipped, n/4)
	}
}
