#!/bin/sh
# Runs once, when the Postgres container first creates its data: the pgBackRest stanza the WAL
# archive goes to, then the first full backup (README, Runbook: backups).
set -eu
pgbackrest --stanza=dripcast --pg1-port=5432 --pg1-socket-path=/var/run/postgresql stanza-create
pgbackrest --stanza=dripcast --pg1-port=5432 --pg1-socket-path=/var/run/postgresql --type=full backup
