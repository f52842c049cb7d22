// Command dripcast is the Dripcast server: one binary, several roles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // contacts' time zones must load on hosts without a zoneinfo database

	"github.com/dripcast/dripcast/config"
)

const usage = `dripcast: a self-hosted WhatsApp broadcast and drip-campaign scheduler

Usage:
  dripcast migrate                      apply database migrations
  dripcast serve                        every role in one process (migrates first)
  dripcast api                          the HTTP API
  dripcast scheduler                    the scheduler (replicas elect one leader)
  dripcast worker                       the Asynq workers
  dripcast admin create-account --name NAME [--key-name NAME]
                                        create an account and print its first API key
  dripcast admin create-user --account N --email E --role owner
                                        a console user, and a one-time link (72 h) to sign in
  dripcast admin rotate-key             re-encrypt every secret at rest under the first key
                                        of DRIPCAST_SECRET_KEYS

Configuration comes from DRIPCAST_* environment variables (see README.md).
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dripcast:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := cfg.Logger(os.Stderr)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch args[0] {
	case "migrate":
		return migrate(ctx, cfg, log)
	case "serve":
		if err := migrate(ctx, cfg, log); err != nil {
			return err
		}
		return runRoles(ctx, cfg, log, roleAPI, roleScheduler, roleWorker)
	case "api":
		return runRoles(ctx, cfg, log, roleAPI)
	case "scheduler":
		return runRoles(ctx, cfg, log, roleScheduler)
	case "worker":
		return runRoles(ctx, cfg, log, roleWorker)
	case "admin":
		return admin(ctx, cfg, args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

func admin(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 1 && args[0] == "rotate-key" {
		return rotateKey(ctx, cfg, stdout)
	}
	if len(args) > 0 && args[0] == "create-user" {
		return createUser(ctx, cfg, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "create-account" {
		return errors.New("usage: dripcast admin create-account --name NAME [--key-name NAME] | " +
			"dripcast admin create-user --account N --email E --role R | dripcast admin rotate-key")
	}
	fs := flag.NewFlagSet("create-account", flag.ContinueOnError)
	name := fs.String("name", "", "the account's name")
	keyName := fs.String("key-name", "default", "a name for its first API key")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("create-account needs --name")
	}
	return createAccount(ctx, cfg, *name, *keyName, stdout)
}
