// Package deploy holds what docker-compose.yml mounts (tools/deploycheck validates the compose
// file itself).
package deploy

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// Prometheus scrapes every Dripcast role the compose file runs, on the port they serve.
func TestPrometheusScrapesEveryRole(t *testing.T) {
	raw, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, role := range []string{"api:9464", "scheduler:9464", "worker:9464"} {
		if !slices.Contains(targets, role) {
			t.Errorf("prometheus does not scrape %s: %v", role, targets)
		}
	}
}
