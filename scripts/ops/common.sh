# Shared by scripts/fuzz.sh, faults.sh, replicas.sh and restore-drill.sh: build the binary, make a fresh database,
# start and stop `gongyi serve` processes, sign in. Source it from the repository root.

OPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OPS_VENV="$OPS_ROOT/target/venv"
# The drills run a copy of the binary they built: with a CARGO_TARGET_DIR shared by several
# checkouts, cargo's own output may be rebuilt from another checkout while a drill runs.
OPS_BIN="$OPS_ROOT/target/ops/gongyi"
OPS_PIDS=()
DEMO_PASSWORD="demo-password-2026"

ops_log() { echo "[$(basename "$0" .sh)] $*" >&2; }

# Every cargo invocation on the shared machine goes through one lock.
ops_cargo() {
  if command -v flock >/dev/null 2>&1; then flock /tmp/cargo.lock cargo "$@"; else cargo "$@"; fi
}

ops_build() {
  # OPS_SKIP_BUILD=1 reuses target/ops/gongyi as it is (e.g. to run several drills at once).
  if [ "${OPS_SKIP_BUILD:-0}" = 1 ] && [ -x "$OPS_BIN" ]; then return 0; fi
  ops_log "building the gongyi binary"
  ops_cargo build --quiet --bin gongyi
  local built="${CARGO_TARGET_DIR:-$OPS_ROOT/target}"
  case "$built" in /*) ;; *) built="$OPS_ROOT/$built" ;; esac
  mkdir -p "$(dirname "$OPS_BIN")"
  cp "$built/debug/gongyi" "$OPS_BIN.tmp" && mv "$OPS_BIN.tmp" "$OPS_BIN"
}

# Python venv under target/ with the given pip requirements.
ops_venv() {
  [ -x "$OPS_VENV/bin/python" ] || python3 -m venv "$OPS_VENV"
  if [ "$#" -gt 0 ]; then
    "$OPS_VENV/bin/pip" install -q --disable-pip-version-check "$@"
  fi
}

# ops_fresh_db SERVER_URL NAME: drops and creates database NAME on the server, prints its URL.
ops_fresh_db() {
  local server="$1" name="$2" base
  base="${server%%\?*}"
  base="${base%/*}"
  psql "$base/postgres" -qtAc "drop database if exists \"$name\" with (force)" >/dev/null
  psql "$base/postgres" -qtAc "create database \"$name\"" >/dev/null
  echo "$base/$name"
}

# ops_serve PORT LOGFILE [ENV=VALUE ...]: starts `gongyi serve` in the background with
# DATABASE_URL from the environment; waits for /healthz.
ops_serve() {
  local port="$1" logfile="$2"
  shift 2
  env GONGYI_ENV=development GONGYI__APPLICATION__PORT="$port" \
    GONGYI__APPLICATION__BASE_URL="http://127.0.0.1:$port" GONGYI__APPLICATION__RUN_MIGRATIONS=false \
    GONGYI__LOG__LEVEL="${OPS_LOG_LEVEL:-warn}" "$@" "$OPS_BIN" serve >"$logfile" 2>&1 &
  OPS_PIDS+=("$!")
  local i
  for i in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return 0; fi
    kill -0 "${OPS_PIDS[-1]}" 2>/dev/null || { ops_log "serve on $port died; see $logfile"; tail -20 "$logfile" >&2; return 1; }
    sleep 0.2
  done
  ops_log "serve on $port did not answer /healthz"
  return 1
}

ops_stop_all() {
  local pid
  for pid in "${OPS_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${OPS_PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  OPS_PIDS=()
}

# ops_login PORT EMAIL: prints a bearer token.
ops_login() {
  curl -fsS -X POST "http://127.0.0.1:$1/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$2\",\"password\":\"$DEMO_PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
