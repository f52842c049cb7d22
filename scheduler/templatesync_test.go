package scheduler

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dripcast/dripcast/metasim"
	"github.com/dripcast/dripcast/metrics"
	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/testenv"
	"github.com/dripcast/dripcast/whatsapp"
)

// The templates job syncs every account's WABA (the soon-job those a webhook asked for); a WABA
// whose token Meta refuses is reported and does not stop the others.
func TestSyncTemplatesJob(t *testing.T) {
	pool, box := testenv.DB(t), testenv.Secrets(t)
	sim := metasim.New(metasim.Config{})
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.AddNumber(metasim.Number{PhoneNumberID: "1001", WABAID: "2001", DisplayNumber: "+14155550101", Token: "tok-a"})
	sim.AddTemplate(metasim.Template{Name: "order_ready", Language: "en", Category: "utility", Params: map[string]int{"body": 1}})
	ctx := context.Background()
	for _, c := range []struct{ name, number, waba, token string }{{"a", "1001", "2001", "tok-a"}, {"b", "1002", "2002", "revoked"}} {
		if _, err := pool.Exec(ctx, `
			WITH a AS (INSERT INTO accounts (name) VALUES ($1) RETURNING id),
			p AS (INSERT INTO portfolios (account_id, name) SELECT id, 'p' FROM a RETURNING id, account_id)
			INSERT INTO channels (account_id, portfolio_id, phone_number_id, waba_id, display_number, access_token_enc, app_secret_enc)
			SELECT account_id, id, $2, $3, '+1415555' || $2, $4, '\x00' FROM p`,
			c.name, c.number, c.waba, box.Seal(c.token, secrets.ChannelToken(c.number))); err != nil {
			t.Fatal(err)
		}
	}
	jobs := NewJobs(pool, nil, nil, quiet, metrics.New(prometheus.NewRegistry()))
	r := Refresher{Meta: whatsapp.NewClient(srv.URL, "v23.0", 5*time.Second), Secrets: box}
	// The soon-job syncs only the WABAs a webhook asked for: none yet, then account a's.
	if err := jobs.SyncTemplates(ctx, r, true); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE channels SET templates_wanted_at = now() WHERE waba_id = '2001'`); err != nil {
		t.Fatal(err)
	}
	var wanted int
	if err := jobs.SyncTemplates(ctx, r, true); err != nil {
		t.Fatal(err)
	}
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM channels WHERE templates_wanted_at IS NOT NULL`).Scan(&wanted)
	if wanted != 0 {
		t.Errorf("%d channels still want a sync after it", wanted)
	}
	err := jobs.SyncTemplates(ctx, r, false)
	if err == nil || !strings.Contains(err.Error(), "Meta refused") {
		t.Errorf("the revoked token: %v", err)
	}
	var synced string
	_ = pool.QueryRow(ctx, `SELECT string_agg(a.name || ':' || t.name, ',') FROM templates t JOIN accounts a ON a.id = t.account_id`).Scan(&synced)
	if synced != "a:order_ready" {
		t.Errorf("templates synced: %q, want account a's only", synced)
	}
}
