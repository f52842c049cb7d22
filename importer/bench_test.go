package importer_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dripcast/dripcast/importer"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/testenv"
)

var importRows = flag.Int("import-rows", 100_000, "rows in the import benchmark (make bench uses 1,000,000)")

// sampleCSV streams n rows: Indian mobile numbers written nationally, as a marketer's export
// would have them, so every row goes through phone normalization.
func sampleCSV(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "phone,name,tags,opted_in,city\n")
		for i := range n {
			fmt.Fprintf(pw, "98%03d %05d,Person %d,t%d,%t,City %d\n", i/100000, i%100000, i, i%10, i%3 == 0, i%50)
		}
		pw.Close()
	}()
	return pr
}

// copyBaseline loads the same rows, already normalized, with COPY: the fastest way into the table.
func copyBaseline(ctx context.Context, pool *pgxpool.Pool, accountID int64, n int) error {
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"contacts"},
		[]string{"account_id", "phone", "name", "tags", "attributes", "country", "time_zone", "opted_in"},
		pgx.CopyFromFunc(func() func() ([]any, error) {
			i := 0
			return func() ([]any, error) {
				if i == n {
					return nil, nil
				}
				row := []any{accountID, fmt.Sprintf("+9198%03d%05d", i/100000, i%100000), fmt.Sprintf("Person %d", i),
					[]string{fmt.Sprintf("t%d", i%10)}, fmt.Sprintf(`{"city":"City %d"}`, i%50), "IN", "Asia/Calcutta", i%3 == 0}
				i++
				return row, nil
			}
		}()))
	return err
}

// BenchmarkImportCSV imports -import-rows CSV rows and, in the same run, COPYs the same rows;
// it reports both rates and their ratio (the target is at least 0.2).
func BenchmarkImportCSV(b *testing.B) {
	ctx := context.Background()
	pool := testenv.DB(b)
	q := queries.New(pool)
	n := *importRows
	for b.Loop() {
		b.StopTimer()
		base, _ := q.CreateAccount(ctx, "baseline")
		acct, _ := q.CreateAccount(ctx, "import")
		b.StartTimer()
		start := time.Now()
		if err := copyBaseline(ctx, pool, base.ID, n); err != nil {
			b.Fatal(err)
		}
		baseline := float64(n) / time.Since(start).Seconds()
		start = time.Now()
		res, err := importer.CSV(ctx, pool, acct.ID, sampleCSV(n), importer.Options{DefaultCountry: "IN", OptInSource: "import"})
		if err != nil || res.Created != n {
			b.Fatalf("import: %v, created %d of %d", err, res.Created, n)
		}
		rate := float64(n) / time.Since(start).Seconds()
		b.ReportMetric(rate, "rows/s")
		b.ReportMetric(baseline, "copy_rows/s")
		b.ReportMetric(rate/baseline, "ratio")
	}
}
