// Package dashcheck checks the Prometheus queries of the dashboards in dashboards/ with
// Prometheus's own PromQL parser. It lives in the tools module so the product's go.mod does not
// carry prometheus/prometheus; dashboards/ tests the rest of the dashboards.
package dashcheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// root is the repository, seen from this package.
const root = "../.."

// exprs lists each dashboard's PromQL expressions by panel title.
func exprs(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	out := map[string][]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					key := filepath.Base(f) + " panel " + p.Title
					out[key] = append(out[key], tg.Expr)
				}
			}
		}
	}
	return out
}

// exported lists the metric names the code registers: every "dripcast_…" string in its Go files.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	re := regexp.MustCompile(`"(dripcast_[a-z0-9_]+)"`)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Hidden folders hold no code (.services/ holds the running Postgres's data, whose files
		// come and go), and tools/ is not the product.
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || path == filepath.Join(root, "tools")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		raw, err := os.ReadFile(path)
		for _, m := range re.FindAllSubmatch(raw, -1) {
			names[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// Every PromQL expression parses, and each metric it reads is one the code exports (histograms
// with their _bucket, _sum and _count series).
func TestPromQLUsesExportedMetrics(t *testing.T) {
	names := exported(t)
	promql := parser.NewParser(parser.Options{})
	histogram := regexp.MustCompile(`_(bucket|sum|count)$`)
	n := 0
	for panel, list := range exprs(t) {
		for _, e := range list {
			n++
			expr, err := promql.ParseExpr(strings.ReplaceAll(e, "$__rate_interval", "1m"))
			if err != nil {
				t.Errorf("%s: %v", panel, err)
				continue
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				vs, ok := node.(*parser.VectorSelector)
				if ok && !names[vs.Name] && !names[histogram.ReplaceAllString(vs.Name, "")] {
					t.Errorf("%s reads %s, which the code does not export", panel, vs.Name)
				}
				return nil
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d PromQL expressions", n)
	}
}
