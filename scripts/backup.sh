#!/usr/bin/env bash
# Continuous backup with point-in-time recovery, with pgBackRest (Debian's pgbackrest), on a
# Postgres of its own: what `make backup-check` (e2e TestBackupRestore) runs, and a worked
# example of the README's runbook.
#
#   scripts/backup.sh up DIR          a new Postgres in DIR/data that archives every WAL segment to
#                                     an encrypted pgBackRest repository in DIR/repo, and its first
#                                     full backup; prints DATABASE_URL=… (database dripcast)
#   scripts/backup.sh restore DIR T   the repository's state at instant T (any form Postgres reads,
#                                     e.g. 2026-12-08 10:15:00.123+00) restored into DIR/restored
#                                     and started, recovered up to T and promoted; prints
#                                     RESTORED_URL=…
#   scripts/backup.sh down DIR        stop both servers
#
# Postgres and pgBackRest run as the postgres user (as root: runuser), which must be able to
# reach DIR.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up|restore|down DIR [T]" >&2; exit 2; }
dir=$(cd "$dir" && pwd)
conf=$dir/pgbackrest.conf

say() { echo "backup: $*" >&2; }
. "$(dirname "$0")/lib.sh"
backrest() { as_pg pgbackrest --config="$conf" --stanza=dripcast "$@"; }

up() {
  command -v pgbackrest >/dev/null || apt_install pgbackrest
  local bin port
  bin=$(pgbin)
  port=$(free_port)
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg mkdir -p "$dir/repo" "$dir/log" "$dir/lock" "$dir/spool"
  # The repository is encrypted (AES-256): a copy of it alone reveals nothing. Keep the passphrase
  # apart from the repository; without it the backups cannot be restored.
  as_pg sh -c "umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > '$dir/cipher-pass'"
  as_pg sh -c "umask 077; cat > '$conf'" <<CONF
[global]
repo1-path=$dir/repo
repo1-retention-full=2
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(as_pg cat "$dir/cipher-pass")
compress-type=lz4
start-fast=y
log-path=$dir/log
lock-path=$dir/lock
spool-path=$dir/spool
log-level-console=warn

[dripcast]
pg1-path=$dir/data
pg1-port=$port
pg1-socket-path=$dir
CONF
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 >/dev/null
  # archive_timeout bounds what a lost server can take with it when its disk goes too: at most
  # that long of commits, since a segment is archived when full or this old.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/data.log" -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -k $dir \
    -c wal_level=replica -c archive_mode=on -c archive_timeout=30 \
    -c archive_command='pgbackrest --config=$conf --stanza=dripcast archive-push %p'" start >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres dripcast
  backrest stanza-create
  backrest check
  local start=$SECONDS
  backrest --type=full backup
  say "full backup in $((SECONDS - start)) s"
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/dripcast?sslmode=disable"
}

restore() {
  local target=$1 bin port start
  bin=$(pgbin)
  # The WAL up to the target must be in the repository: close the current segment and let it go.
  as_pg "$bin/psql" -h "$dir" -p "$(sed -n 's/^pg1-port=//p' "$conf")" -U postgres -tAc "SELECT pg_switch_wal()" >/dev/null
  start=$SECONDS
  as_pg mkdir -p "$dir/restored"
  backrest --pg1-path="$dir/restored" --type=time "--target=$target" --target-action=promote \
    --archive-mode=off restore
  port=$(free_port)
  as_pg "$bin/pg_ctl" -D "$dir/restored" -l "$dir/restored.log" -w -t 300 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/restored" start >/dev/null
  # Recovery replays the archive up to the target, then promotes: until then the server is read-only.
  for _ in $(seq 1 600); do
    [ "$(as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
    sleep 0.1
  done
  say "restored to $target and promoted in $((SECONDS - start)) s"
  echo "RESTORED_URL=postgres://postgres@127.0.0.1:$port/dripcast?sslmode=disable"
}

down() {
  local bin
  bin=$(pgbin)
  for d in "$dir/restored" "$dir/data"; do
    [ -f "$d/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
}

case $cmd in
  up) up ;;
  restore) restore "${3:?the instant to restore to}" ;;
  down) down ;;
  *) echo "usage: $0 up|restore|down DIR [T]" >&2; exit 2 ;;
esac
