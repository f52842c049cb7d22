package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
)

// settleFixture is a running broadcast of n messages (one contact each), all pending.
type settleFixture struct {
	t         *testing.T
	pool      *pgxpool.Pool
	q         *queries.Queries
	jobs      *Jobs
	broadcast int64
	ids       []int64
}

func newSettleFixture(t *testing.T, n int) *settleFixture {
	t.Helper()
	pool := testenv.DB(t)
	f := &settleFixture{t: t, pool: pool, q: queries.New(pool), jobs: NewJobs(pool, testenv.Redis(t), nil, quiet, metrics.New(prometheus.NewRegistry())),
		broadcast: runningBroadcast(t, pool)}
	for i := range n {
		var id int64
		err := pool.QueryRow(context.Background(), `
			WITH c AS (INSERT INTO contacts (account_id, phone) SELECT account_id, $2 FROM broadcasts WHERE id = $1 RETURNING id)
			INSERT INTO messages (account_id, channel_id, contact_id, template_id, broadcast_id, status, due_at)
			SELECT b.account_id, b.channel_id, c.id, b.template_id, b.id, 'pending', now() FROM broadcasts b, c WHERE b.id = $1
			RETURNING id`, f.broadcast, fmt.Sprintf("+1415555%04d", i)).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, id)
	}
	return f
}

func (f *settleFixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatal(err)
	}
}

// state is a message's status, reason and how it was settled.
func (f *settleFixture) state(id int64) string {
	f.t.Helper()
	var s string
	err := f.pool.QueryRow(context.Background(), `SELECT status || '/' || COALESCE(reason, '') || '/' || COALESCE(settled::text, '')
		FROM messages WHERE id = $1`, id).Scan(&s)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *settleFixture) settle() {
	f.t.Helper()
	f.jobs.graceLooked = time.Time{} // the grace rule looks at every run here
	if err := f.jobs.Settle(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// A worker that stops beating is fenced: the sends its last beat listed with a slot more than the
// fence margin after that beat go back to the queue (with a task of their own), the rest of its
// claims become unknown; a live worker's claims are left alone, and the fenced worker's beats are
// no longer recorded.
func TestSettleDeadWorker(t *testing.T) {
	f := newSettleFixture(t, 4)
	ctx := context.Background()
	beat := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	dead, err := f.q.RegisterWorker(ctx, queries.RegisterWorkerParams{Name: "dead", BeatAt: beat})
	if err != nil {
		t.Fatal(err)
	}
	live, err := f.q.RegisterWorker(ctx, queries.RegisterWorkerParams{Name: "live", BeatAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	far, near, unlisted, other := f.ids[0], f.ids[1], f.ids[2], f.ids[3]
	f.exec(`UPDATE messages SET status = 'sending', sending_at = now(), claimed_by = $2, attempts = 1 WHERE id = ANY($1)`,
		[]int64{far, near, unlisted}, dead)
	f.exec(`UPDATE messages SET status = 'sending', sending_at = now(), claimed_by = $2, attempts = 1 WHERE id = $1`, other, live)
	n, err := f.q.BeatWorker(ctx, queries.BeatWorkerParams{ID: dead, BeatAt: beat, PendingIds: []int64{far, near},
		PendingSlots: []time.Time{beat.Add(sendtask.FenceMargin + time.Millisecond), beat.Add(sendtask.FenceMargin)}})
	if err != nil || n != 1 {
		t.Fatalf("beat: %d %v", n, err)
	}
	f.exec(`UPDATE workers SET seen_at = now() - interval '1 minute' WHERE id = $1`, dead)

	f.settle()
	for id, want := range map[int64]string{far: "queued//requeued", near: "unknown/worker_lost/", unlisted: "unknown/worker_lost/", other: "sending//"} {
		if got := f.state(id); got != want {
			t.Errorf("message %d: %s, want %s", id, got, want)
		}
	}
	if _, err := f.jobs.tasks.GetTaskInfo(sendtask.Queue, fmt.Sprintf("send:%d:a1", far)); err != nil {
		t.Errorf("the requeued message has no task: %v", err)
	}
	if n, err := f.q.BeatWorker(ctx, queries.BeatWorkerParams{ID: dead, BeatAt: time.Now(), PendingIds: []int64{}, PendingSlots: []time.Time{}}); err != nil || n != 0 {
		t.Fatalf("a fenced worker's beat was recorded: %d %v", n, err)
	}
	f.settle() // settled once
	if got := f.state(far); got != "queued//requeued" {
		t.Fatalf("after a second run: %s", got)
	}
}

// An unknown send older than the grace period is concluded not sent when a later send of its
// number was delivered; without such evidence (webhooks not flowing for the number) it stays
// unknown. An account that opted in sends it again at once, reopening its completed broadcast.
func TestSettleAfterGrace(t *testing.T) {
	f := newSettleFixture(t, 4)
	f.jobs.UnknownGrace = 10 * time.Minute
	old, young, later, noEvidence := f.ids[0], f.ids[1], f.ids[2], f.ids[3]
	f.exec(`UPDATE messages SET status = 'unknown', reason = 'worker_lost', sending_at = now() - interval '20 minutes' WHERE id = ANY($1)`,
		[]int64{old, noEvidence})
	f.exec(`UPDATE messages SET status = 'unknown', reason = 'worker_lost', sending_at = now() - interval '5 minutes' WHERE id = $1`, young)
	// noEvidence is on another number: the delivered send below says nothing of it.
	f.exec(`UPDATE messages SET channel_id = channel_id + 1000 WHERE id = $1`, noEvidence)
	f.settle()
	if got := f.state(old); got != "unknown/worker_lost/" {
		t.Fatalf("concluded without evidence: %s", got)
	}
	// A later send delivered after the grace period since the unknown one is no evidence: webhooks
	// may have come back only then.
	f.exec(`UPDATE messages SET status = 'delivered', sending_at = now() - interval '19 minutes', sent_at = now() - interval '19 minutes',
		delivered_at = now() - interval '1 minute' WHERE id = $1`, later)
	f.settle()
	if got := f.state(old); got != "unknown/worker_lost/" {
		t.Fatalf("concluded from a delivery after the grace period: %s", got)
	}
	f.exec(`UPDATE messages SET delivered_at = now() - interval '18 minutes' WHERE id = $1`, later)

	f.settle()
	for id, want := range map[int64]string{old: "not_sent/not_sent/grace", young: "unknown/worker_lost/", noEvidence: "unknown/worker_lost/"} {
		if got := f.state(id); got != want {
			t.Errorf("message %d: %s, want %s", id, got, want)
		}
	}

	// Opted in: sent again, and the completed broadcast runs again to send it.
	f.exec(`UPDATE accounts SET settings = '{"resend_not_sent": true}' WHERE id = (SELECT account_id FROM broadcasts WHERE id = $1)`, f.broadcast)
	f.exec(`UPDATE broadcasts SET status = 'completed', finished_at = now() WHERE id = $1`, f.broadcast)
	f.exec(`UPDATE messages SET status = 'unknown', reason = 'worker_lost', settled = NULL, sending_at = now() - interval '20 minutes', attempts = 2
		WHERE id = $1`, old)
	f.settle()
	if got := f.state(old); got != "queued//grace" {
		t.Fatalf("opted in: %s, want queued//grace", got)
	}
	var status string
	_ = f.pool.QueryRow(context.Background(), `SELECT status FROM broadcasts WHERE id = $1`, f.broadcast).Scan(&status)
	if status != "running" {
		t.Fatalf("the broadcast is %s, want running again", status)
	}
	if _, err := f.jobs.tasks.GetTaskInfo(sendtask.Queue, fmt.Sprintf("send:%d:a2", old)); err != nil {
		t.Errorf("the message sent again has no task: %v", err)
	}
}
