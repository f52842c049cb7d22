package main

import (
	"bytes"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The binary starts, serves its default number, and --help documents every knob.
func TestMetasimBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "metasim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, flag := range []string{"-addr", "-config", "-mps", "-tier", "-pair-interval", "-marketing-cap", "-time-scale",
		"-webhook-url", "-webhook-secret", "-sent-delay", "-delivered-delay", "-read-delay", "-read-share", "-fail-share",
		"-drop-delivered", "-duplicate-share", "-shuffle", "-webhook-batch", "-fault-5xx", "-fault-slow", "-fault-timeout",
		"-slow-delay", "-not-on-whatsapp", "-stopped-marketing", "-seed"} {
		if !strings.Contains(string(help), "  "+flag+" ") && !strings.Contains(string(help), "  "+flag+"\n") {
			t.Errorf("--help does not document %s", flag)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-addr", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		if res, err := http.Get(base + "/_sim/counters"); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("metasim did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := http.Post(base+"/_sim/templates", "application/json", strings.NewReader(`{"name":"hello","language":"en","category":"utility"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("register template: %v %v", res.Status, err)
	}
	req, _ := http.NewRequest("POST", base+"/v23.0/100000000000001/messages", bytes.NewBufferString(
		`{"messaging_product":"whatsapp","to":"+14155550100","type":"template","template":{"name":"hello","language":{"code":"en"}}}`))
	req.Header.Set("Authorization", "Bearer metasim-token")
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("send: %v %v", res.Status, err)
	}
}
