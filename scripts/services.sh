#!/usr/bin/env bash
# Local Postgres and Redis for Dripcast, without Docker.
#
#   scripts/services.sh up     start both (installing Debian packages when missing); prints
#                              `export DRIPCAST_DATABASE_URL=… DRIPCAST_REDIS_URL=…` on stdout,
#                              and a development DRIPCAST_SECRET_KEYS kept in .services/
#   scripts/services.sh down   stop both
#   scripts/services.sh env    print the exports of running services
#   scripts/services.sh replica
#                              a streaming replica of that Postgres (pg_basebackup); prints the
#                              DRIPCAST_DATABASE_REPLICA_URL export (`down` stops it too)
#   scripts/services.sh sentinel
#                              a Redis primary, a replica and three Sentinels (Debian's
#                              redis-sentinel) watching them as `dripcast`; prints the
#                              DRIPCAST_REDIS_URL export that names the Sentinels (pids and ports
#                              in .services/sentinel/)
#   scripts/services.sh sentinel-down   stop them
#
# When DRIPCAST_DATABASE_URL and DRIPCAST_REDIS_URL are both set already, `up` starts nothing and
# echoes them: that is how a user points Dripcast at servers of their own.
# Data lives in .services/ (git-ignored); as root, Postgres runs as the `postgres` user because
# initdb refuses root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${DRIPCAST_SERVICES_DIR:-$root/.services}
envfile=$dir/env

say() { echo "services: $*" >&2; }
. "$root/scripts/lib.sh"

install_missing() {
  local pkgs=()
  [ -n "$(pgbin || true)" ] || pkgs+=(postgresql)
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  [ "${1:-}" != sentinel ] || command -v redis-sentinel >/dev/null || pkgs+=(redis-sentinel)
  [ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"
}

# The Postgres data folder must be reachable by the postgres user; a checkout under a private
# home folder is not, so fall back to /tmp.
pg_dir() {
  local d=$dir/pg
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
    d=/tmp/dripcast-pg-$(echo "$root" | md5sum | cut -c1-12)
  fi
  echo "$d"
}

pg_up() {
  local bin d port
  bin=$(pgbin)
  d=$(pg_dir)
  mkdir -p "$d"
  [ "$(id -u)" = 0 ] && chown postgres: "$d"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    say "initdb in $d/data"
    as_pg "$bin/initdb" -D "$d/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
  fi
  # Tests trade durability for speed; benchmarks (DRIPCAST_PG_DURABLE=1) run Postgres as
  # production does, with fsync, synchronous commits and full-page writes on. A server running in
  # the other mode is restarted.
  local mode=fast durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${DRIPCAST_PG_DURABLE:-}" = 1 ]; then mode=durable durability=""; fi
  if as_pg "$bin/pg_ctl" -D "$d/data" status >/dev/null 2>&1 && [ "$(cat "$d/mode" 2>/dev/null || echo fast)" != "$mode" ]; then
    say "restarting Postgres $mode"
    as_pg "$bin/pg_ctl" -D "$d/data" -w -t 60 -m fast stop >/dev/null
  fi
  if as_pg "$bin/pg_ctl" -D "$d/data" status >/dev/null 2>&1; then
    port=$(cat "$d/port")
  else
    port=$(cat "$d/port" 2>/dev/null || true)
    if [ -z "$port" ] || ! port_free "$port"; then port=$(free_port); fi
    as_pg sh -c "echo $port > '$d/port'; echo $mode > '$d/mode'"
    as_pg "$bin/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 -o \
      "-c listen_addresses=127.0.0.1 -p $port -k $d $durability -c max_connections=300 -c shared_buffers=256MB -c shared_preload_libraries=pg_stat_statements" \
      start >/dev/null
  fi
  as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='dripcast'" | grep -q 1 ||
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres dripcast
  echo "$port"
}

redis_up() {
  local d=$dir/redis port
  mkdir -p "$d"
  port=$(cat "$d/port" 2>/dev/null || true)
  if [ -n "$port" ] && redis-cli -p "$port" ping >/dev/null 2>&1; then echo "$port"; return; fi
  if [ -z "$port" ] || ! port_free "$port"; then port=$(free_port); fi
  echo "$port" > "$d/port"
  # noeviction: asynq loses tasks when Redis evicts keys. 4096 databases: one per test.
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$d/redis.pid" --logfile "$d/redis.log" --dir "$d" \
    --databases 4096 --maxmemory-policy noeviction >/dev/null
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "$port"
}

up() {
  if [ -n "${DRIPCAST_DATABASE_URL:-}" ] && [ -n "${DRIPCAST_REDIS_URL:-}" ]; then
    say "using DRIPCAST_DATABASE_URL and DRIPCAST_REDIS_URL from the environment"
    printf 'export DRIPCAST_DATABASE_URL=%q\nexport DRIPCAST_REDIS_URL=%q\n' "$DRIPCAST_DATABASE_URL" "$DRIPCAST_REDIS_URL"
    return
  fi
  install_missing
  mkdir -p "$dir"
  local pgport redisport
  pgport=$(pg_up)
  redisport=$(redis_up)
  # A key for secrets at rest on this development machine (production sets its own).
  [ -f "$dir/secret-keys" ] || echo "local:$(head -c 32 /dev/urandom | base64)" > "$dir/secret-keys"
  cat > "$envfile" <<ENV
export DRIPCAST_DATABASE_URL=postgres://postgres@127.0.0.1:$pgport/dripcast?sslmode=disable
export DRIPCAST_REDIS_URL=redis://127.0.0.1:$redisport/0
export DRIPCAST_SECRET_KEYS=\${DRIPCAST_SECRET_KEYS:-$(cat "$dir/secret-keys")}
ENV
  say "Postgres on 127.0.0.1:$pgport, Redis on 127.0.0.1:$redisport"
  cat "$envfile"
}

down() {
  local d bin
  d=$(pg_dir)
  bin=$(pgbin || true)
  if [ -n "$bin" ] && [ -f "$d-replica/data/PG_VERSION" ]; then
    as_pg "$bin/pg_ctl" -D "$d-replica/data" -m fast stop >/dev/null 2>&1 && say "Postgres replica stopped" || true
  fi
  if [ -n "$bin" ] && [ -f "$d/data/PG_VERSION" ]; then
    as_pg "$bin/pg_ctl" -D "$d/data" -m fast stop >/dev/null 2>&1 && say "Postgres stopped" || true
  fi
  if [ -f "$dir/redis/port" ]; then
    redis-cli -p "$(cat "$dir/redis/port")" shutdown nosave >/dev/null 2>&1 && say "Redis stopped" || true
  fi
  rm -f "$envfile"
}

# replica_up starts a hot standby of the Postgres of `up`, streaming its WAL (the replication
# connection initdb's trust rules allow on loopback), with as many connections as the primary
# (a standby refuses to start with fewer).
replica_up() {
  local bin d primary port
  bin=$(pgbin)
  d=$(pg_dir)-replica
  primary=$(cat "$(pg_dir)/port")
  as_pg "$bin/pg_isready" -q -h 127.0.0.1 -p "$primary" || { say "start the primary first: $0 up"; return 1; }
  mkdir -p "$d"
  [ "$(id -u)" = 0 ] && chown postgres: "$d"
  if as_pg "$bin/pg_ctl" -D "$d/data" status >/dev/null 2>&1; then
    port=$(cat "$d/port")
  else
    if [ ! -f "$d/data/PG_VERSION" ]; then
      say "pg_basebackup into $d/data"
      as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$d/data" -R -X stream --checkpoint=fast
    fi
    port=$(free_port)
    as_pg sh -c "echo $port > '$d/port'"
    as_pg "$bin/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 -o \
      "-c listen_addresses=127.0.0.1 -p $port -k $d -c max_connections=300 -c hot_standby=on" start >/dev/null
  fi
  say "streaming replica on 127.0.0.1:$port"
  echo "export DRIPCAST_DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$port/dripcast?sslmode=disable"
}

# sentinel_up starts a primary and a replica of it, then three Sentinels (quorum 2) that call the
# primary down after a second without an answer and promote the replica. They keep no data on
# disk: a Redis that comes back empty is one Dripcast already survives (the queue is fed again from
# Postgres).
sentinel_up() {
  install_missing sentinel
  local d=$dir/sentinel primary replica port urls=()
  sentinel_down 2>/dev/null || true
  rm -rf "$d"
  mkdir -p "$d"
  primary=$(free_port)
  replica=$(free_port)
  redis_node "$d/primary" "$primary"
  redis_node "$d/replica" "$replica" --replicaof 127.0.0.1 "$primary"
  for s in s1 s2 s3; do
    port=$(free_port)
    mkdir -p "$d/$s"
    cat > "$d/$s/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
pidfile $d/$s/pid
logfile $d/$s/log
dir $d/$s
sentinel monitor dripcast 127.0.0.1 $primary 2
sentinel down-after-milliseconds dripcast 1000
sentinel failover-timeout dripcast 10000
CONF
    redis-sentinel "$d/$s/sentinel.conf" >/dev/null
    echo "$port" > "$d/$s/port"
    urls+=("127.0.0.1:$port")
  done
  for s in s1 s2 s3; do wait_ping "$(cat "$d/$s/port")"; done
  say "Redis primary on 127.0.0.1:$primary, replica on 127.0.0.1:$replica, Sentinels on ${urls[*]}"
  echo "export DRIPCAST_REDIS_URL='redis://${urls[0]}/0?master_name=dripcast&addr=${urls[1]}&addr=${urls[2]}'"
}

# redis_node starts a Redis server of the Sentinel set in folder $1 on port $2 (more flags after).
redis_node() {
  local d=$1 port=$2
  shift 2
  mkdir -p "$d"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$d/pid" --logfile "$d/log" --dir "$d" --maxmemory-policy noeviction "$@" >/dev/null
  echo "$port" > "$d/port"
  wait_ping "$port"
}

wait_ping() {
  for _ in $(seq 1 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
  say "nothing answers on port $1"; return 1
}

# sentinel_down stops the set and waits for each process to be gone (a Sentinel rewrites its
# configuration as it stops: its folder is not done with until then).
sentinel_down() {
  local pids=()
  for f in "$dir"/sentinel/*/pid; do
    [ -f "$f" ] && pids+=("$(cat "$f")")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill "${pids[@]}" 2>/dev/null || true
  local alive p
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) cat "$envfile" ;;
  replica) replica_up ;;
  sentinel) sentinel_up ;;
  sentinel-down) sentinel_down ;;
  *) echo "usage: $0 up|down|env|replica|sentinel|sentinel-down" >&2; exit 2 ;;
esac
