// Package deploycheck validates docker-compose.yml with the Compose specification's own loader
// (these machines have no Docker engine to run it). It lives in the tools module so the product's
// go.mod does not carry compose-go.
package deploycheck

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

func load(env map[string]string) (*types.Project, error) {
	dir, _ := filepath.Abs("../..")
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{WorkingDir: dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}}, Environment: env},
		func(o *loader.Options) { o.SetProjectName("dripcast", true) })
}

// required is what the stack refuses to start without: no secret and no password has a default.
var required = map[string]string{"DRIPCAST_SECRET_KEYS": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	"POSTGRES_PASSWORD": "pg-pass", "GRAFANA_DB_PASSWORD": "gf-db-pass", "GRAFANA_ADMIN_PASSWORD": "gf-admin-pass",
	"BACKUP_PASSPHRASE": "backup-pass"}

func TestComposeFile(t *testing.T) {
	for name := range required {
		env := maps.Clone(required)
		delete(env, name)
		if _, err := load(env); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v, want an error naming it", name, err)
		}
	}
	p, err := load(required)
	if err != nil {
		t.Fatal(err)
	}
	// Every published port is on loopback unless the user opts in, and then only the API's.
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q", name, port.Published, port.HostIP)
			}
		}
	}
	env := maps.Clone(required)
	env["DRIPCAST_PUBLISH_ADDR"] = "0.0.0.0"
	open, err := load(env)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range open.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" && name != "api" {
				t.Errorf("with DRIPCAST_PUBLISH_ADDR, %s publishes %s on %q", name, port.Published, port.HostIP)
			}
		}
	}
	for _, name := range []string{"postgres", "redis", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "migrate", "api", "scheduler", "worker", "metasim", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist", name, v.Source)
			}
		}
		if s.Build != nil {
			dockerfile := s.Build.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if _, err := os.Stat(filepath.Join(s.Build.Context, dockerfile)); err != nil {
				t.Errorf("%s builds from %s without a Dockerfile", name, s.Build.Context)
			}
		}
		if strings.HasPrefix(name, "api") || name == "scheduler" || name == "worker" {
			if s.Environment["DRIPCAST_SECRET_KEYS"] == nil || *s.Environment["DRIPCAST_DATABASE_URL"] == "" {
				t.Errorf("%s lacks its configuration: %v", name, s.Environment)
			}
		}
	}
	for _, name := range []string{"redis", "redis-replica"} {
		if cmd := p.Services[name].Command; !slices.Contains(cmd, "noeviction") {
			t.Errorf("%s must not evict queued work: %v", name, cmd)
		}
	}
	// Postgres archives its WAL with pgBackRest, into the backups' volume.
	if cmd := strings.Join(p.Services["postgres"].Command, " "); !strings.Contains(cmd, "archive_command=pgbackrest --stanza=dripcast archive-push") {
		t.Errorf("postgres does not archive its WAL with pgBackRest: %s", cmd)
	}
	// Dripcast asks the three Sentinels for the primary.
	url := *p.Services["worker"].Environment["DRIPCAST_REDIS_URL"]
	for _, sentinel := range []string{"sentinel-1", "sentinel-2", "sentinel-3"} {
		if !strings.Contains(url, sentinel+":26379") || !strings.Contains(url, "master_name=dripcast") {
			t.Errorf("DRIPCAST_REDIS_URL %s does not name %s and the master dripcast", url, sentinel)
		}
	}
}
