package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dripcast/dripcast/testenv"
)

// The demo runs from start to end (with fewer contacts), so `make demo` keeps working.
func TestDemoRuns(t *testing.T) {
	// The demo's processes run here at the lowest priority beside the whole suite under the race
	// detector: most sends would wake more than the default 5 ms after their throughput slot and
	// take another, and the drip would not finish in the demo's minute.
	t.Setenv("DRIPCAST_SEND_TOLERANCE", "100ms")
	bin := filepath.Join(t.TempDir(), "dripcast")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dripcast").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	name := "demo_test_" + strings.ReplaceAll(filepath.Base(t.TempDir()), "-", "_")
	var out bytes.Buffer
	cfg := Config{Binary: bin, DatabaseURL: os.Getenv("DRIPCAST_DATABASE_URL"), Database: name,
		RedisURL: testenv.RedisURL(t), Contacts: 2000, Out: &out}
	if cfg.DatabaseURL == "" {
		t.Fatal("DRIPCAST_DATABASE_URL is not set: run `make test`")
	}
	t.Cleanup(func() { _, _ = freshDatabase(context.Background(), cfg.DatabaseURL, name) })
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{`1998 created, 2 rejected`, `299 contacts match`, `"Hi Asha! Our Diwali sale in Pune`,
		`skipped (not opted in)   200`, `sent                     599`,
		`enrolled                 100`, `exited                   10 replied, 23 opted_out`, `Sign in as demo@example.com`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if regexp.MustCompile(`\+91\d{10}`).MatchString(out.String()) {
		t.Error("the demo printed an unmasked phone number")
	}
}
