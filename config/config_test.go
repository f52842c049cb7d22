package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Setenv("DRIPCAST_DATABASE_URL", "postgres://x@127.0.0.1/d")
	t.Setenv("DRIPCAST_SHUTDOWN_TIMEOUT", "5s")
	t.Setenv("DRIPCAST_LOG_LEVEL", "debug")
	c, err := Load()
	if err != nil || c.ShutdownTimeout != 5*time.Second || c.LogLevel.String() != "DEBUG" || c.HTTPAddr != "127.0.0.1:8080" ||
		c.SendTolerance != 5*time.Millisecond {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	for name, v := range map[string]string{
		"DRIPCAST_MAX_BODY_BYTES":   "-1",
		"DRIPCAST_SHUTDOWN_TIMEOUT": "soon",
		"DRIPCAST_LOG_FORMAT":       "xml",
		"DRIPCAST_LOG_LEVEL":        "loud",
		"DRIPCAST_SEND_TOLERANCE":   "0s",
		"DRIPCAST_DATABASE_URL":     "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DRIPCAST_DATABASE_URL", "postgres://x@127.0.0.1/d")
			t.Setenv(name, v)
			if _, err := Load(); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%q: %v", name, v, err)
			}
		})
	}
}
