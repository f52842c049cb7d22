// Package dashboards holds Dripcast's Grafana dashboards and their provisioning; this test keeps
// them true to the schema (tools/dashcheck checks their PromQL against the metrics the code
// exports).
package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/dripcast/dripcast/testenv"
)

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string     `json:"name"`
			Query      string     `json:"query"`
			Datasource datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int        `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Datasource  datasource `json:"datasource"`
	TimeFrom    string     `json:"timeFrom"` // the panel's own range, ending with the dashboard's
	GridPos     struct{ X, Y, W, H int }
	Targets     []struct {
		RefID      string     `json:"refId"`
		Datasource datasource `json:"datasource"`
		RawSQL     string     `json:"rawSql"`
		Expr       string     `json:"expr"`
	} `json:"targets"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func load(t testing.TB) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// provisioned reads the data source uids and types Grafana is given.
func provisioned(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("provisioning/datasources/dripcast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Datasources []struct{ UID, Type string }
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range cfg.Datasources {
		out[d.UID] = d.Type
	}
	return out
}

// The JSON models: unique uids and panel ids, data sources that exist, panels on the 24-column
// grid without overlaps, a description for each.
func TestDashboardModels(t *testing.T) {
	sources := provisioned(t)
	uids := map[string]bool{}
	for file, d := range load(t) {
		if d.UID == "" || uids[d.UID] {
			t.Errorf("%s: uid %q missing or not unique", file, d.UID)
		}
		uids[d.UID] = true
		ids := map[int]bool{}
		var cells [][4]int
		for _, p := range d.Panels {
			where := fmt.Sprintf("%s panel %d %q", file, p.ID, p.Title)
			if p.ID == 0 || ids[p.ID] {
				t.Errorf("%s: id missing or not unique", where)
			}
			ids[p.ID] = true
			if p.Description == "" {
				t.Errorf("%s: no description", where)
			}
			g := p.GridPos
			if g.X < 0 || g.Y < 0 || g.W < 1 || g.H < 1 || g.X+g.W > 24 {
				t.Errorf("%s: off the grid: %+v", where, g)
			}
			for _, c := range cells {
				if g.X < c[0]+c[2] && c[0] < g.X+g.W && g.Y < c[1]+c[3] && c[1] < g.Y+g.H {
					t.Errorf("%s: overlaps another panel", where)
				}
			}
			cells = append(cells, [4]int{g.X, g.Y, g.W, g.H})
			for _, ds := range append([]datasource{p.Datasource}, targetSources(p)...) {
				if sources[ds.UID] != ds.Type {
					t.Errorf("%s: data source %+v is not provisioned", where, ds)
				}
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
		}
		for _, v := range d.Templating.List {
			if sources[v.Datasource.UID] != v.Datasource.Type {
				t.Errorf("%s variable %s: data source %+v is not provisioned", file, v.Name, v.Datasource)
			}
		}
	}
}

func targetSources(p panel) []datasource {
	var out []datasource
	for _, t := range p.Targets {
		out = append(out, t.Datasource)
	}
	return out
}

// rangeEnd is the end of the time range the queries are expanded with (the benchmark's data ends
// there too); a dashboard's range is the day before it.
var rangeEnd = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

// expand replaces Grafana's Postgres macros and the dashboards' variables as Grafana would, for a
// range of the panel's own length (timeFrom) or a day.
func expand(sql string, p panel) string {
	span := 24 * time.Hour
	if p.TimeFrom != "" {
		d, err := time.ParseDuration(p.TimeFrom)
		if err == nil {
			span = d
		}
	}
	from := rangeEnd.Add(-span).Format(time.RFC3339)
	sql = regexp.MustCompile(`\$__timeGroupAlias\(([^,]+),\s*'(\d+)([mhd])'\)`).ReplaceAllStringFunc(sql, func(m string) string {
		p := regexp.MustCompile(`\$__timeGroupAlias\(([^,]+),\s*'(\d+)([mhd])'\)`).FindStringSubmatch(m)
		secs := map[string]string{"m": "*60", "h": "*3600", "d": "*86400"}[p[3]]
		return fmt.Sprintf(`floor(extract(epoch from %s)/(%s%s))*(%s%s) AS "time"`, p[1], p[2], secs, p[2], secs)
	})
	sql = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`).ReplaceAllString(sql,
		`$1 BETWEEN '`+from+`' AND '`+rangeEnd.Format(time.RFC3339)+`'`)
	return strings.NewReplacer("$account", "1", "$channel", "0", "$broadcast", "0", "$sequence", "0").Replace(sql)
}

// Every SQL query (panels and variables), macros expanded, runs on the migrated schema as the
// read-only role Grafana uses.
func TestSQLQueriesRunAsTheReadOnlyRole(t *testing.T) {
	pool := testenv.DB(t)
	n := 0
	for file, d := range load(t) {
		queries := map[string]string{}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL != "" {
					queries[fmt.Sprintf("%s panel %q %s", file, p.Title, tg.RefID)] = expand(tg.RawSQL, p)
				}
			}
		}
		for _, v := range d.Templating.List {
			queries[file+" variable "+v.Name] = expand(v.Query, panel{})
		}
		for where, sql := range queries {
			n++
			err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(context.Background(), "SET LOCAL ROLE dripcast_readonly"); err != nil {
					return err
				}
				rows, err := tx.Query(context.Background(), sql)
				if err != nil {
					return err
				}
				rows.Close()
				return rows.Err()
			})
			if err != nil {
				t.Errorf("%s: %v\n%s", where, err, sql)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d SQL queries", n)
	}
}

// The dashboards' role reads no personal data: not a contact's name or phone, not an
// enrollment's properties (order payloads), a message's context or a broadcast's audience.
func TestReadOnlyRoleReadsNoPersonalData(t *testing.T) {
	pool := testenv.DB(t)
	for _, sql := range []string{"SELECT name FROM contacts", "SELECT phone FROM contacts", "SELECT attributes FROM contacts",
		"SELECT properties FROM enrollments", "SELECT context FROM messages", "SELECT audience FROM broadcasts",
		"SELECT properties FROM events", "SELECT payload FROM integration_deliveries", "SELECT access_token_enc FROM channels",
		"SELECT * FROM enrollments"} {
		err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), "SET LOCAL ROLE dripcast_readonly"); err != nil {
				return err
			}
			_, err := tx.Exec(context.Background(), sql)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as dripcast_readonly: %v", sql, err)
		}
	}
}
