# Helpers the service scripts share (services.sh, backup.sh source this; each defines say first).

# as_pg runs a command as the postgres user when root (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pgbin is the newest installed Postgres's bin folder; it fails when there is none.
pgbin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# apt_install installs Debian packages (with sudo unless root).
apt_install() {
  say "installing $* from Debian's packages"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >&2
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports below the kernel's ephemeral range (32768 and up by default): a port in that range may be
# the local end of some client's connection, and then the server cannot bind it even though
# nothing listens there.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  say "no free port found"; return 1
}
