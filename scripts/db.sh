#!/usr/bin/env bash
# Makes sure a Postgres is reachable and exports DATABASE_URL.
#
#   source scripts/db.sh        # then: db_ensure (sets DATABASE_URL)
#   scripts/db.sh up|down|status|url
#
# Uses $DATABASE_URL when that server answers; otherwise runs a project-local cluster in
# .pgdata/ (port $GONGYI_PG_PORT, default 54329), installing Debian's postgresql package when
# the server binaries are missing. initdb refuses root, so as root the cluster runs as the
# `postgres` system user.

GONGYI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GONGYI_PGDATA="${GONGYI_PGDATA:-$GONGYI_ROOT/.pgdata}"
GONGYI_PG_PORT="${GONGYI_PG_PORT:-54329}"

db_log() { echo "[db] $*" >&2; }

# Runs a command as the cluster owner.
db_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
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

db_local_up() {
  local bin
  bin=$(db_bindir) || true
  if [ -z "$bin" ]; then
    db_install_server || { db_log "could not install postgresql"; return 1; }
    bin=$(db_bindir) || { db_log "initdb still not found after install"; return 1; }
  fi
  if [ ! -f "$GONGYI_PGDATA/PG_VERSION" ]; then
    db_log "creating a local cluster in $GONGYI_PGDATA (port $GONGYI_PG_PORT)"
    mkdir -p "$GONGYI_PGDATA"
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || { db_log "no 'postgres' system user to own the cluster"; return 1; }
      chown postgres:postgres "$GONGYI_PGDATA"
      chmod 700 "$GONGYI_PGDATA"
      if ! runuser -u postgres -- test -x "$GONGYI_PGDATA"; then
        db_log "the postgres user cannot reach $GONGYI_PGDATA (a parent folder is not traversable); set GONGYI_PGDATA elsewhere"
        return 1
      fi
    fi
    db_as_owner "$bin/initdb" -D "$GONGYI_PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
      { db_log "initdb failed"; return 1; }
    # A development/test cluster only: durability traded for speed.
    cat >>"$GONGYI_PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $GONGYI_PG_PORT
unix_socket_directories = '$GONGYI_PGDATA'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" status >/dev/null 2>&1; then
    return 0
  fi
  # A crash can leave a stale pid file behind; pg_ctl start copes with most, remove the rest.
  if [ -f "$GONGYI_PGDATA/postmaster.pid" ]; then
    local pid
    pid=$(head -n 1 "$GONGYI_PGDATA/postmaster.pid")
    kill -0 "$pid" 2>/dev/null || rm -f "$GONGYI_PGDATA/postmaster.pid"
  fi
  db_log "starting the local cluster on 127.0.0.1:$GONGYI_PG_PORT"
  db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" -l "$GONGYI_PGDATA/server.log" -w -t 60 start >/dev/null ||
    { db_log "the local cluster did not start; see $GONGYI_PGDATA/server.log"; return 1; }
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
  if db_answers "$(db_local_url)"; then
    DATABASE_URL="$(db_local_url)"
    export DATABASE_URL
    db_log "using the Postgres already listening on 127.0.0.1:$GONGYI_PG_PORT"
    return 0
  fi
  db_local_up || return 1
  DATABASE_URL="$(db_local_url)"
  export DATABASE_URL
  db_answers "$DATABASE_URL" || { db_log "local cluster started but does not answer"; return 1; }
  db_log "using the local cluster: $DATABASE_URL"
}

db_down() {
  local bin
  bin=$(db_bindir) || true
  if [ -n "$bin" ] && [ -f "$GONGYI_PGDATA/PG_VERSION" ]; then
    db_as_owner "$bin/pg_ctl" -D "$GONGYI_PGDATA" -m fast stop >/dev/null 2>&1 && db_log "local cluster stopped"
  fi
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-up}" in
    up | url) db_ensure && echo "$DATABASE_URL" ;;
    down) db_down ;;
    status)
      if [ -n "${DATABASE_URL:-}" ] && db_answers "$DATABASE_URL"; then echo "DATABASE_URL answers"
      elif db_answers "$(db_local_url)"; then echo "local cluster running: $(db_local_url)"
      else echo "no database running"; fi ;;
    *) echo "usage: scripts/db.sh up|down|status|url" >&2; exit 2 ;;
  esac
fi
