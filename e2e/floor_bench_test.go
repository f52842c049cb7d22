package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/sendtask"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// floorPipeline is the least any design with a row per recipient must do here, measured beside
// BenchmarkSends: the worker's Asynq servers, one task per recipient, each handler POSTing the same
// Cloud API request (the promo template with one parameter, through Dripcast's Cloud API client) to
// a metasim set up like the benchmark's (numbers a limit never binds), and the result written by
// a batched UPDATE … FROM unnest (up to 200 a statement, one statement at a time, each handler
// waiting for its own, as the worker's sent records) to a status column of a plain table with only
// a primary key. No claim, no limits, no rendering, no queue feeding. Answers sends per second and
// the CPU time a send costs, by process (the harness is this process: the pipeline and metasim).
func floorPipeline(b *testing.B, n, numbers int) (float64, cpuUse) {
	ctx := context.Background()
	pool := testenv.DB(b)
	for _, sql := range []string{`CREATE TABLE floor_messages (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'queued', wamid text)`,
		fmt.Sprintf(`INSERT INTO floor_messages (id) SELECT generate_series(1, %d)`, n)} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	sim := metasim.New(metasim.Config{})
	defer sim.Close()
	for i := range numbers {
		sim.AddNumber(metasim.Number{PhoneNumberID: numberID(i), WABAID: wabaID, DisplayNumber: fmt.Sprintf("+1415555%04d", i), Token: token,
			MPS: 1 << 20, Portfolio: "p"})
	}
	sim.AddTemplate(metasim.Template{Name: "promo", Language: "en", Category: "marketing", Params: map[string]int{"body": 1}})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client := whatsapp.NewClient(srv.URL, "v23.0", 15*time.Second)
	workers := queuedTasks(b, n)
	records := startFloorRecords(ctx, pool)
	defer close(records) // after the servers' shutdown (deferred later, run earlier)
	var done atomic.Int64
	mux := asynq.NewServeMux()
	mux.HandleFunc(sendtask.Type, func(ctx context.Context, t *asynq.Task) error {
		id, err := sendtask.MessageID(t.Payload())
		if err != nil {
			return err
		}
		tpl := whatsapp.NewTemplate("promo", "en", []whatsapp.Component{{Type: "body", Parameters: []whatsapp.Parameter{{Type: "text", Text: "Asha"}}}})
		res, err := client.SendTemplate(ctx, token, numberID(int(id)%numbers), fmt.Sprintf("1%010d", id), tpl, fmt.Sprint(id))
		if err != nil {
			return err
		}
		if err := records.write(id, res.WAMID); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	start, cpu0 := time.Now(), cpuNow(0)
	if err := workers.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer workers.Shutdown()
	testenv.Eventually(b, "the floor pipeline's sends", 30*time.Minute, func() bool { return done.Load() >= int64(n) })
	rate, cpu := float64(n)/time.Since(start).Seconds(), cpuNow(0).since(cpu0).perItem(n)
	var sent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM floor_messages WHERE status = 'sent'`).Scan(&sent); err != nil || sent != n {
		b.Fatalf("floor pipeline: %d of %d recorded sent (%v)", sent, n, err)
	}
	return rate, cpu
}

// floorRecords batches the floor pipeline's results: one UPDATE at a time, of up to 200 rows.
type floorRecords chan floorRecord

type floorRecord struct {
	id    int64
	wamid string
	done  chan error
}

func startFloorRecords(ctx context.Context, pool *pgxpool.Pool) floorRecords {
	in := make(floorRecords, 1024)
	go func() {
		for first := range in {
			batch := []floorRecord{first}
		gather:
			for len(batch) < 200 {
				select {
				case r := <-in:
					batch = append(batch, r)
				default:
					break gather
				}
			}
			ids, wamids := make([]int64, len(batch)), make([]string, len(batch))
			for i, r := range batch {
				ids[i], wamids[i] = r.id, r.wamid
			}
			_, err := pool.Exec(ctx, `UPDATE floor_messages f SET status = 'sent', wamid = u.wamid
				FROM (SELECT unnest($1::bigint[]) AS id, unnest($2::text[]) AS wamid) u WHERE f.id = u.id`, ids, wamids)
			for _, r := range batch {
				r.done <- err
			}
		}
	}()
	return in
}

func (f floorRecords) write(id int64, wamid string) error {
	done := make(chan error, 1)
	f <- floorRecord{id: id, wamid: wamid, done: done}
	return <-done
}
