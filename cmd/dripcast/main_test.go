package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/dripcast/dripcast/secrets"
	"github.com/dripcast/dripcast/testenv"
)

// bin is the binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dripcast-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "dripcast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func get(url, key string) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// The binary end to end: migrate, create an account, serve every role, answer with the printed
// key, and stop cleanly on SIGTERM.
func TestServeAndShutdown(t *testing.T) {
	addr := testenv.FreeAddr(t)
	env := []string{"DRIPCAST_DATABASE_URL=" + testenv.DatabaseURL(t), "DRIPCAST_REDIS_URL=" + testenv.RedisURL(t),
		"DRIPCAST_HTTP_ADDR=" + addr, "DRIPCAST_LOG_FORMAT=json", "DRIPCAST_SECRET_KEYS=" + secrets.NewKey("t")}
	if out, err := command(env, "migrate").CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := command(env, "admin", "create-account", "--name", "Acme").Output()
	if err != nil {
		t.Fatalf("create-account: %v", err)
	}
	m := regexp.MustCompile(`api_key=(dc_\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("create-account printed no key: %s", out)
	}
	key := string(m[1])
	account := regexp.MustCompile(`account_id=(\d+)`).FindSubmatch(out)
	out, err = command(env, "admin", "create-user", "--account", string(account[1]), "--email", "Ana@Example.com", "--role", "owner").Output()
	link := regexp.MustCompile(`sign_in_link=(http://\S+/welcome/\S+)`).FindSubmatch(out)
	if err != nil || link == nil {
		t.Fatalf("create-user: %v %s", err, out)
	}

	var logs bytes.Buffer
	serve := command(env, "serve")
	serve.Stderr = &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer serve.Process.Kill() //nolint:errcheck // already exited when the test passes
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, err := get(base+"/readyz", ""); err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 15s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The console is served too: the one-time link opens the page that sets a password.
	if code, err := get(string(link[1]), ""); err != nil || code != 200 {
		t.Errorf("GET the sign-in link: %d %v", code, err)
	}
	for path, want := range map[string]int{"/v1/account": 200, "/metrics": 200, "/openapi.yaml": 200, "/signin": 200} {
		if code, err := get(base+path, key); err != nil || code != want {
			t.Errorf("GET %s: %d %v", path, code, err)
		}
	}
	if code, _ := get(base+"/v1/account", "dc_000000000000_"+string(bytes.Repeat([]byte("A"), 43))); code != 401 {
		t.Errorf("a made-up key got %d", code)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop within 15s of SIGTERM:\n%s", logs.String())
	}
}

// A worker process serves health and metrics, not the API.
func TestWorkerServesOnlyOps(t *testing.T) {
	addr := testenv.FreeAddr(t)
	env := []string{"DRIPCAST_DATABASE_URL=" + testenv.DatabaseURL(t), "DRIPCAST_REDIS_URL=" + testenv.RedisURL(t), "DRIPCAST_HTTP_ADDR=" + addr, "DRIPCAST_SECRET_KEYS=" + secrets.NewKey("t")}
	w := command(env, "worker")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Process.Signal(syscall.SIGTERM); _ = w.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, err := get("http://"+addr+"/healthz", ""); err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker not healthy in 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := get("http://"+addr+"/v1/account", ""); code != 404 {
		t.Fatalf("a worker answered an API route with %d", code)
	}
}

func TestBadConfigIsAClearError(t *testing.T) {
	out, err := command([]string{"DRIPCAST_DATABASE_URL=postgres://x", "DRIPCAST_LOG_FORMAT=xml"}, "api").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("DRIPCAST_LOG_FORMAT")) {
		t.Fatalf("bad log format: %v %s", err, out)
	}
	out, _ = command(nil, "--help").CombinedOutput()
	if !bytes.Contains(out, []byte("create-account")) {
		t.Fatalf("help: %s", out)
	}
}
