#!/usr/bin/env bash
# Fault drill: crashes Postgres while load runs and checks that
#   - while the database is down the service answers 503 problem+json, never a 500 or a hang
#     (each answer within the pool/connect timeouts);
#   - it recovers by itself once the database is back (no restart of the service);
#   - every draft it acknowledged with 201 is in the database afterwards.
#
#   scripts/faults.sh        # ~30 s of load, Postgres down for ~6 s in the middle
#   FAULTS_DURABLE=0 scripts/faults.sh   # the same with fsync/synchronous_commit off (may lose writes)
#
# Postgres is stopped with `pg_ctl stop -m immediate`: the postmaster kills every backend
# without a checkpoint, as a power cut or an OOM kill would, and the next start replays the WAL.
# The cluster is durable (fsync, synchronous_commit and full_page_writes on), so every commit the
# service acknowledged must survive.
#
# Runs its own throwaway cluster (scripts/db.sh's `faults` cluster, port $FAULTS_PG_PORT,
# default 54339) so that crashing it harms no one; it never touches DATABASE_URL's server.
set -euo pipefail
cd "$(dirname "$0")/.."
# FAULTS_DURABLE=0 runs the same drill with durability off, to see what it costs.
export GONGYI_PG_CLUSTER=faults GONGYI_PG_DURABLE="${FAULTS_DURABLE:-1}"
[ -n "${FAULTS_PGDATA:-}" ] && export GONGYI_PGDATA="$FAULTS_PGDATA"
export GONGYI_PG_PORT="${FAULTS_PG_PORT:-54339}"
export GONGYI_DB_NAME=gongyi_faults
unset DATABASE_URL
source scripts/db.sh
source scripts/ops/common.sh
PORT="${FAULTS_PORT:-18280}"
LOG="$OPS_ROOT/target/faults.serve.log"
POOL_TIMEOUT_MS=2000
CONNECT_TIMEOUT_MS=2000
STATEMENT_TIMEOUT_MS=5000

ops_build
db_local_up
BIN="$(db_bindir)"
cleanup() {
  ops_stop_all
  db_down
}
trap cleanup EXIT
export DATABASE_URL
DATABASE_URL="$(ops_fresh_db "$(db_local_url)" gongyi_faults)"
# The drill proves durability only on a durable cluster.
for setting in fsync synchronous_commit full_page_writes; do
  value=$(psql "$DATABASE_URL" -qtAc "show $setting")
  [ "$value" = on ] || [ "$GONGYI_PG_DURABLE" = 0 ] || { ops_log "FAIL: $setting is $value on the drill's cluster"; exit 1; }
done
GONGYI_ENV=development "$OPS_BIN" migrate >/dev/null 2>&1
GONGYI_ENV=development "$OPS_BIN" seed-demo >/dev/null 2>&1
ops_serve "$PORT" "$LOG" GONGYI__DATABASE__POOL_TIMEOUT_MS=$POOL_TIMEOUT_MS \
  GONGYI__DATABASE__CONNECT_TIMEOUT_MS=$CONNECT_TIMEOUT_MS \
  GONGYI__DATABASE__STATEMENT_TIMEOUT_MS=$STATEMENT_TIMEOUT_MS \
  GONGYI__EMAIL__TRANSPORT=file GONGYI__EMAIL__FILE_DIR="$OPS_ROOT/target/faults-mail"

restart_db() {
  sleep 8
  wc -l <"$GONGYI_PGDATA/server.log" >"$OPS_ROOT/target/faults.log-lines"
  ops_log "crashing Postgres (pg_ctl stop -m immediate)"
  db_as_owner "$BIN/pg_ctl" -D "$GONGYI_PGDATA" -m immediate -w stop >/dev/null
  date +%s.%N >"$OPS_ROOT/target/faults.down"
  sleep 6
  ops_log "starting Postgres again"
  db_pg_ctl_start "$BIN"
  date +%s.%N >"$OPS_ROOT/target/faults.up"
}
restart_db &
RESTARTER=$!

BASE="http://127.0.0.1:$PORT" LIMIT_S=$(((POOL_TIMEOUT_MS + CONNECT_TIMEOUT_MS) / 1000 + 2)) \
  OUT="$OPS_ROOT/target/faults.acked" python3 - <<'PY'
import os, sys, threading, time, json
sys.path.insert(0, "scripts/ops")
from client import call, login, open_round, content, ok

base, limit_s, out = os.environ["BASE"], float(os.environ["LIMIT_S"]), os.environ["OUT"]
admin = login(base, "admin@demo.gongyi")
applicant = login(base, "applicant1@demo.gongyi")
round_id = open_round(base, admin, name="故障演练轮次")
results, lock = [], threading.Lock()
deadline = time.monotonic() + 30

def worker(n):
    i = 0
    while time.monotonic() < deadline:
        i += 1
        t = time.time()
        r = call(base, "POST", f"/api/v1/rounds/{round_id}/applications", applicant,
                 content(f"故障演练 {n}-{i}"), timeout=limit_s + 5)
        with lock:
            results.append((t, r))
        time.sleep(0.05)

threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()

# After the load: the service answers again without a restart.
ready = call(base, "GET", "/readyz")
recovered = ready.status == 200
acked = [r.json()["id"] for _, r in results if r.status == 201]
by_status = {}
for _, r in results:
    key = r.status if r.status < 400 else f"{r.status} {(r.json() or {}).get('code')} {r.ctype}"
    by_status[key] = by_status.get(key, 0) + 1
bad = [r for _, r in results if r.status not in (201, 503)]
bad_503 = [r for _, r in results if r.status == 503 and (not r.ctype.startswith("application/problem+json")
           or (r.json() or {}).get("code") != "service_unavailable")]
slow = [r for _, r in results if r.elapsed > limit_s]
n503 = sum(1 for _, r in results if r.status == 503)
print(json.dumps({"requests": len(results), "by_status": {str(k): v for k, v in by_status.items()},
                  "max_latency_s": round(max(r.elapsed for _, r in results), 3),
                  "latency_limit_s": limit_s, "readyz_after": ready.status}, ensure_ascii=False))
with open(out, "w") as f:
    f.write("\n".join(acked) + "\n")
fail = []
if bad: fail.append(f"{len(bad)} answers neither 201 nor 503, e.g. {bad[:3]}")
if bad_503: fail.append(f"{len(bad_503)} 503s without a service_unavailable problem, e.g. {bad_503[:2]}")
if slow: fail.append(f"{len(slow)} answers slower than {limit_s}s")
if n503 == 0: fail.append("no 503 seen: the database restart was not observed")
if not recovered: fail.append("the service did not recover (readyz)")
if fail:
    print("FAIL: " + "; ".join(fail)); sys.exit(1)
PY
wait "$RESTARTER"

# Every acknowledged draft must be in the database.
ACKED=$(grep -c . "$OPS_ROOT/target/faults.acked" || true)
IDS=$(grep . "$OPS_ROOT/target/faults.acked" | sed "s/.*/'&'/" | paste -sd, -)
FOUND=$(psql "$DATABASE_URL" -qtAc "select count(*) from applications where id in ($IDS)")
ops_log "acknowledged with 201: $ACKED, found in the database: $FOUND"
if grep -q panicked "$LOG"; then ops_log "the server panicked"; exit 1; fi
# It was a crash: the restart replayed the WAL.
RECOVERIES=$(tail -n +"$(($(cat "$OPS_ROOT/target/faults.log-lines") + 1))" "$GONGYI_PGDATA/server.log" |
  grep -c 'automatic recovery in progress' || true)
if [ "$RECOVERIES" = 0 ]; then
  ops_log "FAIL: Postgres did not recover from a crash (was it really stopped with -m immediate?)"; exit 1
fi
[ "$ACKED" -gt 0 ] && [ "$FOUND" = "$ACKED" ] || { ops_log "FAIL: acknowledged writes are missing"; exit 1; }
echo "faults: OK ($ACKED acknowledged writes all present after crash recovery; 503 while down; recovered by itself)"
