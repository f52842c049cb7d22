// Command demo shows Dripcast at work against local Postgres and Redis (make demo).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/dripcast/dripcast/demo"
)

func main() {
	bin := flag.String("bin", "bin/dripcast", "the dripcast binary")
	contacts := flag.Int("contacts", 20000, "sample contacts to import")
	stay := flag.Bool("stay", true, "keep Dripcast running for its console until Ctrl-C")
	flag.Parse()
	cfg := demo.Config{Binary: *bin, DatabaseURL: os.Getenv("DRIPCAST_DATABASE_URL"),
		RedisURL: os.Getenv("DRIPCAST_REDIS_URL"), Database: "dripcast_demo", Contacts: *contacts, Out: os.Stdout, Stay: *stay}
	if cfg.DatabaseURL == "" || cfg.RedisURL == "" {
		fmt.Fprintln(os.Stderr, "demo: DRIPCAST_DATABASE_URL and DRIPCAST_REDIS_URL must be set (make demo sets them)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := demo.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
