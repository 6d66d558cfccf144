#!/usr/bin/env bash
# Makes sure a Postgres is reachable and exports DATABASE_URL.
#
#   source scripts/db.sh        # then: db_ensure (sets DATABASE_URL)
#   scripts/db.sh up|down|status|url|where
#
# Uses $DATABASE_URL when that server answers; otherwise runs a local cluster of this checkout,
# installing Debian's postgresql package when the server binaries are missing. initdb refuses
# root, so as root the cluster runs as the `postgres` system user.
#
# Each checkout has its own clusters, outside the checkout so that their owner can always reach
# them (a clone in /root, which is 0700, is fine):
#   as root:     /var/lib/gongyi/<checkout name>-<hash of its path>/<cluster>   (owned by postgres)
#   otherwise:   ${XDG_STATE_HOME:-~/.local/state}/gongyi/<checkout name>-<hash>/<cluster>
# The clusters (GONGYI_PG_CLUSTER):
#   main    scripts/run.sh, 127.0.0.1:54329. Durable: fsync, synchronous_commit and
#           full_page_writes on (the defaults) — people keep real data here.
#   test    scripts/test.sh / .ci/run, 127.0.0.1:54328. Durability off (GONGYI_PG_DURABLE=0):
#           its databases are thrown away, a crash loses nothing anyone needs.
#   faults, restore   the drills' own throwaway clusters (scripts/faults.sh, restore-drill.sh).
# Durability is set on the pg_ctl command line each time a cluster starts (`-c fsync=…`), never
# written into postgresql.conf, so a cluster is durable unless the script that starts it asks
# otherwise. A checkout's older cluster in .pgdata/ (created before this layout) stays in use
# as `main`, and is durable from its next start on.

GONGYI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GONGYI_PG_CLUSTER="${GONGYI_PG_CLUSTER:-main}"
GONGYI_PG_DURABLE="${GONGYI_PG_DURABLE:-1}"

db_log() { echo "[db] $*" >&2; }

# Where this checkout's clusters live.
db_base_dir() {
  local hash
  hash=$(printf %s "$GONGYI_ROOT" | sha256sum | cut -c1-12)
  if [ "$(id -u)" = 0 ]; then
    echo "/var/lib/gongyi/$(basename "$GONGYI_ROOT")-$hash"
  else
    echo "${XDG_STATE_HOME:-$HOME/.local/state}/gongyi/$(basename "$GONGYI_ROOT")-$hash"
  fi
}

if [ -z "${GONGYI_PGDATA:-}" ]; then
  if [ "$GONGYI_PG_CLUSTER" = main ] && [ -f "$GONGYI_ROOT/.pgdata/PG_VERSION" ]; then
    GONGYI_PGDATA="$GONGYI_ROOT/.pgdata"
  else
    GONGYI_PGDATA="$(db_base_dir)/$GONGYI_PG_CLUSTER"
  fi
fi
case "$GONGYI_PG_CLUSTER" in
  main) GONGYI_PG_PORT="${GONGYI_PG_PORT:-54329}" ;;
  test) GONGYI_PG_PORT="${GONGYI_PG_PORT:-54328}" ;;
  *) GONGYI_PG_PORT="${GONGYI_PG_PORT:-54339}" ;;
esac

# Runs a command as the cluster owner.
db_as_owner() {
  # From / : the postgres user may not be able to enter the current folder.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Answers 0 when the server of the given URL accepts connections.
db_answers() {
  local url="$1" base
  base="${url%%\?*}"
  base="${base%/*}/postgres"
  command -v psql >/dev/null 2>&1 || return 1
  PGCONNECT_TIMEOUT=3 psql "$base" -qtAc 'select 1' >/dev/null 2>&1
}

db_bindir() {
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
  [ -n "$initdb" ] && dirname "$initdb"
}

db_install_server() {
  db_log "PostgreSQL server binaries not found: installing Debian's postgresql package"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >&2
}

# The server options that decide durability, for pg_ctl -o.
db_durability_opts() {
  if [ "$GONGYI_PG_DURABLE" = 1 ]; then
    echo "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  else
    # Throwaway clusters only: a crash may lose or corrupt data, nothing there is kept.
    echo "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
}

# Makes a directory owned by the cluster owner (as root: the postgres user).
db_owned_dir() {
  local dir="$1" mode="$2"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  chmod "$mode" "$dir"
}

# Starts the cluster in $GONGYI_PGDATA (it must exist) with the durability asked for.
db_pg_ctl_start() {
  local bin="$1"
  db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" -l "$GONGYI_PGDATA/server.log" -w -t 60 \
    -o "-c port=$GONGYI_PG_PORT $(db_durability_opts)" start >/dev/null
}

db_local_up() {
  local bin
  bin=$(db_bindir) || true
  if [ -z "$bin" ]; then
    db_install_server || { db_log "could not install postgresql"; return 1; }
    bin=$(db_bindir) || { db_log "initdb still not found after install"; return 1; }
  fi
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { db_log "no 'postgres' system user to own the cluster"; return 1; }
  fi
  local socket_dir="$GONGYI_PGDATA.socket"
  if [ ! -f "$GONGYI_PGDATA/PG_VERSION" ]; then
    db_log "creating the local cluster '$GONGYI_PG_CLUSTER' in $GONGYI_PGDATA (port $GONGYI_PG_PORT)"
    # Parents traversable by everyone (the socket lives beside the data), the data itself 0700.
    mkdir -p "$(dirname "$GONGYI_PGDATA")"
    chmod 755 "$(dirname "$GONGYI_PGDATA")" 2>/dev/null || true
    case "$GONGYI_PGDATA" in /var/lib/gongyi/*) chmod 755 /var/lib/gongyi ;; esac
    db_owned_dir "$GONGYI_PGDATA" 700
    if ! db_as_owner test -x "$GONGYI_PGDATA"; then
      db_log "the postgres user cannot reach $GONGYI_PGDATA (a parent folder is not traversable); set GONGYI_PGDATA elsewhere"
      return 1
    fi
    db_as_owner "$bin/initdb" -D "$GONGYI_PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
      { db_log "initdb failed"; return 1; }
    cat >>"$GONGYI_PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $GONGYI_PG_PORT
unix_socket_directories = '$socket_dir'
max_connections = 200
# fsync, synchronous_commit and full_page_writes are given at each start (scripts/db.sh).
CONF
  fi
  # Older clusters had the socket inside the data folder and durability off in their config:
  # the options given at start win over the file; the socket folder is made if it is named.
  if grep -q "^unix_socket_directories = '$socket_dir'" "$GONGYI_PGDATA/postgresql.conf" 2>/dev/null; then
    db_owned_dir "$socket_dir" 755
  fi
  if db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" status >/dev/null 2>&1; then
    db_check_durability "$bin"
    return $?
  fi
  # A crash can leave a stale pid file behind; pg_ctl start copes with most, remove the rest.
  if [ -f "$GONGYI_PGDATA/postmaster.pid" ]; then
    local pid
    pid=$(head -n 1 "$GONGYI_PGDATA/postmaster.pid")
    kill -0 "$pid" 2>/dev/null || rm -f "$GONGYI_PGDATA/postmaster.pid"
  fi
  db_log "starting the local cluster '$GONGYI_PG_CLUSTER' on 127.0.0.1:$GONGYI_PG_PORT ($([ "$GONGYI_PG_DURABLE" = 1 ] && echo durable || echo 'durability off'))"
  db_pg_ctl_start "$bin" ||
    { db_log "the local cluster did not start; see $GONGYI_PGDATA/server.log"; return 1; }
}

# A durable cluster asked for, but this one runs with fsync off (started by an older script or
# by hand): restart it durable. A cluster with durability off asked for may stay durable.
db_check_durability() {
  local bin="$1" fsync
  [ "$GONGYI_PG_DURABLE" = 1 ] || return 0
  fsync=$(psql "postgres://postgres@127.0.0.1:$GONGYI_PG_PORT/postgres" -qtAc 'show fsync' 2>/dev/null || true)
  [ "$fsync" = off ] || return 0
  db_log "the local cluster runs with fsync off: restarting it durable"
  db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" -m fast -w stop >/dev/null &&
    db_pg_ctl_start "$bin"
}

db_local_url() {
  echo "postgres://postgres@127.0.0.1:$GONGYI_PG_PORT/${GONGYI_DB_NAME:-gongyi}"
}

# Sets DATABASE_URL to a server that answers.
db_ensure() {
  if [ -n "${DATABASE_URL:-}" ] && db_answers "$DATABASE_URL"; then
    db_log "using DATABASE_URL (server answers)"
    export DATABASE_URL
    return 0
  fi
  [ -n "${DATABASE_URL:-}" ] && db_log "DATABASE_URL does not answer: using a local cluster instead"
  # A cluster of another checkout may already serve the local port: share it rather than fail.
  if db_answers "$(db_local_url)" && ! db_is_ours; then
    DATABASE_URL="$(db_local_url)"
    export DATABASE_URL
    db_log "using the Postgres already listening on 127.0.0.1:$GONGYI_PG_PORT (not this checkout's cluster)"
    if [ "$GONGYI_PG_DURABLE" = 1 ] &&
      [ "$(psql "${DATABASE_URL%/*}/postgres" -qtAc 'show fsync' 2>/dev/null)" = off ]; then
      db_log "WARNING: that server runs with fsync off: a crash can lose what you write there"
    fi
    return 0
  fi
  db_local_up || return 1
  DATABASE_URL="$(db_local_url)"
  export DATABASE_URL
  db_answers "$DATABASE_URL" || { db_log "local cluster started but does not answer"; return 1; }
  db_log "using the local cluster: $DATABASE_URL"
}

# Answers 0 when this checkout's cluster is the one running (its pid file names a live process).
db_is_ours() {
  local pid
  [ -f "$GONGYI_PGDATA/postmaster.pid" ] || return 1
  pid=$(head -n 1 "$GONGYI_PGDATA/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

db_down() {
  local bin
  bin=$(db_bindir) || true
  if [ -n "$bin" ] && [ -f "$GONGYI_PGDATA/PG_VERSION" ]; then
    db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" -m fast stop >/dev/null 2>&1 &&
      db_log "local cluster '$GONGYI_PG_CLUSTER' stopped"
  fi
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-up}" in
    up | url) db_ensure && echo "$DATABASE_URL" ;;
    down) db_down ;;
    where) echo "$GONGYI_PGDATA (cluster '$GONGYI_PG_CLUSTER', port $GONGYI_PG_PORT)" ;;
    status)
      if [ -n "${DATABASE_URL:-}" ] && db_answers "$DATABASE_URL"; then echo "DATABASE_URL answers"
      elif db_answers "$(db_local_url)"; then echo "local cluster running: $(db_local_url)"
      else echo "no database running"; fi ;;
    *) echo "usage: [GONGYI_PG_CLUSTER=main|test] scripts/db.sh up|down|status|url|where" >&2; exit 2 ;;
  esac
fi
