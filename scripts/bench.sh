#!/usr/bin/env bash
# The benchmark (issue #7), one command:
#
#   scripts/bench.sh            # full run, rewrites docs/PERFORMANCE.md
#   scripts/bench.sh --quick    # skips the 1M-row list step and the criterion benches
#   scripts/bench.sh --durable  # also runs the write steps against a durable cluster of its own
#                               # (fsync and synchronous_commit on), reported beside the others
#
# Every ratio is the median of BENCH_REPS (3) interleaved pairs (service, twin, service, twin,
# ...) with the spread (lowest–highest of the pairs' ratios) beside it. The web pages are
# measured against the JSON answers they are built from, signed in through POST /login.
#
# Builds the release binary, starts it against a fresh database `gongyi_bench` on the Postgres
# of DATABASE_URL (or the project-local one of scripts/db.sh), seeds a data set with SQL, drives
# HTTP load with wrk (installed with apt-get when missing) at 1, 8 and 32 connections, runs the
# pgbench twins of the same SQL on the same Postgres, times the ranking, measures list pages at
# two table sizes with their query plans, samples the server's peak RSS, runs the criterion
# micro-benchmarks, and writes everything to docs/PERFORMANCE.md (the analysis section is kept
# by hand in scripts/bench/analysis.md and appended).
#
# Knobs (environment): BENCH_DURATION (seconds per load step, default 8), BENCH_ORGS (60000,
# enough drafts that no submit step runs out),
# BENCH_REVIEW_APPS (10000), BENCH_TWIN_ORGS (1000), BENCH_LIST_ROWS (1000000), BENCH_PORT (18080),
# BENCH_CONNS ("1 8 32"), BENCH_DB (gongyi_bench), BENCH_REPS (3), BENCH_DURABLE_PORT (54359),
# BENCH_GATED (6: the database.write_concurrency of the score step's second server).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HERE="$ROOT/scripts/bench"

QUICK=0
DURABLE=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --durable) DURABLE=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

DURATION="${BENCH_DURATION:-8}"
ORGS="${BENCH_ORGS:-60000}"
REVIEW_APPS="${BENCH_REVIEW_APPS:-10000}"
TWIN_ORGS="${BENCH_TWIN_ORGS:-1000}"
LIST_ROWS="${BENCH_LIST_ROWS:-1000000}"
PORT="${BENCH_PORT:-18080}"
CONNS="${BENCH_CONNS:-1 8 32}"
DB_NAME="${BENCH_DB:-gongyi_bench}"
REPS="${BENCH_REPS:-3}"
DURABLE_PORT="${BENCH_DURABLE_PORT:-54359}"
GATED="${BENCH_GATED:-6}"
DEFAULT_WC=$(grep -m1 '^write_concurrency' "$ROOT/config/default.toml" | awk '{print $3}')
OUT="$ROOT/target/bench"
DOC="$ROOT/docs/PERFORMANCE.md"
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.items "$OUT"/results.tsv "$OUT"/pairs.tsv "$OUT"/rss.tsv

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk (Debian package)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2 ||
    { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2; }
fi
for tool in wrk pgbench psql curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool (pgbench/psql: apt-get install postgresql-client)" >&2; exit 1; }
done

# Cargo runs under the shared lock when there is one (machines shared by several builders).
cargo_locked() {
  if [ -e /tmp/cargo.lock ]; then flock /tmp/cargo.lock cargo "$@"; else cargo "$@"; fi
}

log "building the release binary"
cargo_locked build --release --bin gongyi >&2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/gongyi"

# ---------------------------------------------------------------- database
# shellcheck source=scripts/db.sh
source "$ROOT/scripts/db.sh"
db_ensure >/dev/null

# The service runs with the production settings, except: its own port, no email sender (there is
# no SMTP server; the outbox rows are still written in the submit transaction) and warn-level
# logs (one info line per request would measure the terminal, not the service).
export GONGYI_ENV=production
export GONGYI__APPLICATION__HOST=127.0.0.1
export GONGYI__EMAIL__SENDER_ENABLED=false
export GONGYI__LOG__LEVEL=warn

q() { psql "$BENCH_URL" -qtAX -c "$1"; }

# prepare_db SERVER_URL: a fresh bench database on that server, migrated and seeded; sets
# BENCH_URL, ADMIN_URL, OPEN_ROUND, REVIEW_ROUND, APPS_AT_START, seed_secs.
prepare_db() {
  local base="${1%%\?*}"
  base="${base%/*}"
  ADMIN_URL="$base/postgres"
  BENCH_URL="$base/$DB_NAME"
  log "fresh database $DB_NAME on ${base#*@}"
  psql "$ADMIN_URL" -qtAc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
  psql "$ADMIN_URL" -qtAc "CREATE DATABASE $DB_NAME" >/dev/null
  DATABASE_URL="$BENCH_URL" "$BIN" migrate >&2
  DATABASE_URL="$BENCH_URL" "$BIN" seed-demo >&2
  log "seeding: $ORGS organizations x 3 drafts, $REVIEW_APPS applications x 5 reviews, $TWIN_ORGS twin drafts"
  local start
  start=$(date +%s)
  psql "$BENCH_URL" -q -v orgs="$ORGS" -v review_apps="$REVIEW_APPS" -v twin_orgs="$TWIN_ORGS" \
    -f "$HERE/seed.sql" >/dev/null
  seed_secs=$(($(date +%s) - start))
  OPEN_ROUND=$(q "SELECT id FROM rounds WHERE status = 'open' ORDER BY created_at LIMIT 1")
  REVIEW_ROUND=$(q "SELECT md5('bench-round-reviewing')::uuid")
  APPS_AT_START=$(q "SELECT count(*) FROM applications")
  # The postmaster of this server, when it runs on this machine (for the CPU accounting).
  local ckpt
  ckpt=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
  PG_MASTER=$(ps -o ppid= -p "${ckpt:-0}" 2>/dev/null | tr -d ' ' || true)
  case "$(cat "/proc/${PG_MASTER:-0}/comm" 2>/dev/null)" in postgres*) ;; *) PG_MASTER="" ;; esac
}

SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

# start_server PORT: the service on the bench database; sets URL and SERVER_PID.
start_server() {
  local port=$1
  log "starting the server on port $port"
  DATABASE_URL="$BENCH_URL" GONGYI__APPLICATION__PORT="$port" "$BIN" serve >"$OUT/server-$port.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -fs "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "$URL/healthz" >/dev/null || { cat "$OUT/server-$port.log" >&2; echo "server did not start" >&2; exit 1; }
}

login() { # EMAIL -> bearer token
  curl -fs "$URL/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"demo-password-2026\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}

# web_login EMAIL -> "gongyi_session=…": signs in as a browser does (the CSRF token and its
# cookie from GET /login, then POST /login), so wrk's requests carry a real session.
web_login() {
  local page csrf pre cookie
  page=$(curl -fs -D - "$URL/login")
  csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n 1)
  pre=$(printf '%s' "$page" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(gongyi_login_csrf=[^;]*\).*/\1/p' | head -n 1)
  cookie=$(curl -fs -o /dev/null -D - "$URL/login" -H "Cookie: $pre" \
    --data-urlencode "csrf_token=$csrf" --data-urlencode "email=$1" \
    --data-urlencode "password=demo-password-2026" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(gongyi_session=[^;]*\).*/\1/p' | head -n 1)
  [ -n "$cookie" ] || { echo "web sign-in of $1 failed" >&2; exit 1; }
  printf '%s' "$cookie"
}

# work_lists: "<id> <token>" per line. Each connection level and each repetition submits its
# own slice of drafts (draft d belongs to org (d-1)%ORGS+1), so no draft is submitted twice.
work_lists() {
  local n_conns slice k c r
  n_conns=$(echo "$CONNS" | wc -w)
  slice=$((3 * ORGS / (n_conns * REPS)))
  k=0
  for c in $CONNS; do
    for r in $(seq 1 "$REPS"); do
      q "SELECT md5('bench-draft-' || d)::uuid, 'gy_bench_a' || (((d - 1) % $ORGS) + 1)
         FROM generate_series($((k * slice + 1)), $(((k + 1) * slice))) d" | tr '|' ' ' >"$OUT/submit-$c-$r.items"
      k=$((k + 1))
    done
  done
  q "SELECT md5('bench-rev-' || a)::uuid, 'gy_bench_a' || (((a - 1) % $ORGS) + 1)
     FROM generate_series(1, $REVIEW_APPS) a ORDER BY md5(a::text)" | tr '|' ' ' >"$OUT/read.items"
  q "SELECT md5('bench-asg-' || a || '-6')::uuid, 'gy_bench_r6'
     FROM generate_series(1, least($REVIEW_APPS, 2000)) a" | tr '|' ' ' >"$OUT/scores.items"
}
SCORES_BODY='{"scores":{"need_analysis":"12","project_design":"16.5","capacity":"12","budget":"11.5","outcomes":"13","party_elements":"6"},"comment":"压测评分"}'

log "building the item lists"
prepare_db "$DATABASE_URL"
start_server "$PORT"
ADMIN_TOKEN=$(login admin@demo.gongyi)
FINANCE_TOKEN=$(login finance1@demo.gongyi)
APPLICANT_TOKEN=gy_bench_a1
[ -n "$ADMIN_TOKEN" ] && [ -n "$FINANCE_TOKEN" ] || { echo "sign-in failed" >&2; exit 1; }
ADMIN_COOKIE=$(web_login admin@demo.gongyi)
FINANCE_COOKIE=$(web_login finance1@demo.gongyi)
APPLICANT_COOKIE=$(web_login applicant1@bench.gongyi.cn)
PAGE_APP=$(q "SELECT md5('bench-rev-1')::uuid")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
work_lists
echo "- $ADMIN_TOKEN" >"$OUT/admin.items"
echo "$PAGE_APP $APPLICANT_TOKEN" >"$OUT/page-app.items"
echo "- $FINANCE_TOKEN" >"$OUT/finance.items"

# ---------------------------------------------------------------- measurements
# results.tsv: name  conns  rps  p50_ms  p99_ms  requests  errors
RESULTS="$OUT/results.tsv"
: >"$RESULTS"

to_ms() { # wrk latency ("812.00us", "3.21ms", "1.02s") -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else printf "%s", v }'
}

# CPU accounting: for each load step, the CPU time (µs) the service, the Postgres server and
# the load generator (wrk or pgbench) used, so the report can say where a request's cost goes.
# On 2 shared cores a step is CPU-bound above a few connections, and then its throughput is
# the cores over the CPU one request costs in all three. Only when Postgres is local (its
# postmaster found through the checkpointer); cpu.tsv: name conns requests service pg client.
CPU="$OUT/cpu.tsv"
: >"$CPU"
CLK=$(getconf CLK_TCK)
pg_ticks() { # every live Postgres process plus the children the postmaster has reaped
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$PG_MASTER/stat"
    # A backend may exit between pgrep and awk (its ticks then count as reaped, above).
    for p in $(pgrep -P "$PG_MASTER"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done
  } | awk '{s += $1} END {print s + 0}'
}
svc_ticks() { if [ -n "$SERVER_PID" ]; then awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; else echo 0; fi; }
CHILD_US=0
child_us() { # sets CHILD_US: CPU of this shell's finished children (wrk, pgbench); `times` must
  # run in this shell (never in $(...)): a subshell has no children of its own yet
  times >"$OUT/times.tmp"
  CHILD_US=$(tail -n 1 "$OUT/times.tmp" | awk '{ s = 0; for (i = 1; i <= NF; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); s += a[1] * 60 + a[2] } printf "%.0f", s * 1e6 }')
}
CPU_MARK=""
cpu_begin() {
  CPU_MARK=""
  [ -n "$PG_MASTER" ] || return 0
  child_us
  CPU_MARK="$(svc_ticks) $(pg_ticks) $CHILD_US"
}
cpu_end() { # NAME CONNS REQUESTS
  [ -n "$CPU_MARK" ] && [ "${3:-0}" -gt 0 ] || return 0
  local s1 p1 k1
  s1=$(svc_ticks); p1=$(pg_ticks); child_us; k1=$CHILD_US
  echo "$CPU_MARK" | awk -v n="$1" -v c="$2" -v r="$3" -v s1="$s1" -v p1="$p1" -v k1="$k1" -v clk="$CLK" \
    '{ printf "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\n", n, c, r, (s1 - $1) * 1e6 / clk, (p1 - $2) * 1e6 / clk, k1 - $3 }' >>"$CPU"
}

# run_wrk NAME CONNS METHOD PATH ITEMS [BODY] (with $COOKIE set, requests carry that session)
run_wrk() {
  local name=$1 c=$2 method=$3 path=$4 items=$5 body=${6:-} threads out
  threads=$((c < 2 ? 1 : 2))
  out="$OUT/wrk-${name//\//_}-$c.txt"
  cpu_begin
  BENCH_ITEMS="$items" BENCH_THREADS="$threads" BENCH_METHOD="$method" BENCH_PATH="$path" \
    BENCH_BODY="$body" BENCH_COOKIE="${COOKIE:-}" wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency -s "$HERE/items.lua" "$URL" >"$out" 2>&1 || true
  cpu_end "$name" "$c" "$(awk '/requests in/ {print $1}' "$out")"
  local rps p50 p99 reqs errs non2xx sockerr
  # The server's peak RSS after each step, so the report can say which step raised it.
  [ -n "$SERVER_PID" ] && printf '%s\t%s\t%s\n' "$name" "$c" \
    "$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)" >>"$OUT/rss.tsv"
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  reqs=$(awk '/requests in/ {print $1}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
  sockerr=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
  errs=$((${non2xx:-0} + ${sockerr:-0}))
  # Successful requests per second: errors never count as throughput.
  rps=$(awk -v r="${rps:-0}" -v n="${reqs:-0}" -v e="$errs" 'BEGIN { if (n > 0) printf "%.1f", r * (n - e) / n; else print 0 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "${rps:-0}" "${p50:-?}" "${p99:-?}" "${reqs:-0}" "$errs" >>"$RESULTS"
  log "$name c=$c: ${rps:-0} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms, errors $errs"
}

# run_pgbench NAME CONNS FILE: tps, and p50/p99 from pgbench's per-transaction log, so each
# twin's latency is known as well as its rate.
run_pgbench() {
  local name=$1 c=$2 file=$3 threads out tps p50 p99 prefix
  threads=$((c < 2 ? 1 : 2))
  out="$OUT/pgbench-${name//\//_}-$c.txt"
  prefix="$OUT/pglog-${name//[\/#@]/_}-$c"
  rm -f "$prefix".*
  cpu_begin
  pgbench -n -M prepared -c "$c" -j "$threads" -T "$DURATION" -f "$file" -l --log-prefix="$prefix" \
    -D orgs="$ORGS" -D twin_orgs="$TWIN_ORGS" -D review_apps="$REVIEW_APPS" -D open_round="$OPEN_ROUND" \
    "$BENCH_URL" >"$out" 2>&1 || true
  cpu_end "$name" "$c" "$(awk '/number of transactions actually processed/ {print $NF}' "$out" | cut -d/ -f1)"
  tps=$(awk '/^tps = / {printf "%.1f", $3}' "$out" | tail -n 1)
  # Log lines: client transaction latency_us script epoch us.
  read -r p50 p99 < <(cat "$prefix".* 2>/dev/null | awk '{print $3}' | sort -n |
    awk '{a[NR] = $1} END {
      if (!NR) { print "? ?"; exit }
      i = int(NR * 0.50) + 1; j = int(NR * 0.99) + 1; if (j > NR) j = NR
      printf "%.2f %.2f\n", a[i] / 1000, a[j] / 1000 }')
  rm -f "$prefix".*
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "${tps:-0}" "${p50:-?}" "${p99:-?}" "-" \
    "$(awk '/number of failed/ {print $5}' "$out" | head -n 1 | tr -d '()%' || echo 0)" >>"$RESULTS"
  log "$name c=$c: ${tps:-0} tps (p50 ${p50:-?} ms, p99 ${p99:-?} ms)"
}

# Each step starts on a settled database: the write steps leave dead rows, dirty pages and WAL
# behind, and an autovacuum or a checkpoint landing in the next step would show in that step's
# tail, not in the one that caused it.
settle() {
  psql "$BENCH_URL" -qtAX -c "VACUUM (ANALYZE) applications, assignments, audit_events, email_outbox" \
    -c "CHECKPOINT" >/dev/null
  sleep 1
}

# pairs.tsv: name twin conns  rps p50 p99 requests errors  twin_rps twin_p99  ratio spread_lo spread_hi
# Each row summarizes the REPS interleaved pairs NAME#k / TWIN#k: the ratio is the median of
# the pairs' ratios, the figures shown are those of the median pair, the spread is the lowest
# and highest ratio. A NAME measured once (NAME#1 only) is compared with each TWIN#k.
PAIRS="$OUT/pairs.tsv"
: >"$PAIRS"
summarize() { # NAME TWIN CONNS
  local name=$1 twin=$2 c=$3
  awk -F'\t' -v n="$name" -v t="$twin" -v c="$c" -v reps="$REPS" '
    $2 == c { row[$1] = $0; rps[$1] = $3 }
    END {
      m = 0
      for (k = 1; k <= reps; k++) {
        s = (n "#" k) in rps ? n "#" k : n "#1"; w = t "#" k
        if (!(s in rps) || !(w in rps) || rps[w] <= 0) continue
        m++; r[m] = 100 * rps[s] / rps[w]; sv[m] = s; tv[m] = w
      }
      if (!m) exit
      for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (r[b] < r[a]) {
        x = r[a]; r[a] = r[b]; r[b] = x; x = sv[a]; sv[a] = sv[b]; sv[b] = x; x = tv[a]; tv[a] = tv[b]; tv[b] = x }
      mid = int((m + 1) / 2)
      split(row[sv[mid]], S, "\t"); split(row[tv[mid]], T, "\t")
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.0f\t%.0f\n", n, t, c, S[3], S[4], S[5], S[6], S[7], T[3], T[5], r[mid], r[1], r[m]
    }' "$RESULTS" >>"$PAIRS"
}

# measure_writes TAG: the write steps (submit and score) and their twins, REPS interleaved pairs
# per connection level; TAG ("" or "@durable") names the rows.
measure_writes() {
  local tag=$1 c k
  for c in $CONNS; do
    for k in $(seq 1 "$REPS"); do
      settle
      run_wrk "submit$tag#$k" "$c" POST "/api/v1/applications/%s/submit" "$OUT/submit-$c-$k.items"
      settle
      run_pgbench "pg_submit$tag#$k" "$c" "$HERE/pgbench_submit.sql"
    done
    for k in $(seq 1 "$REPS"); do
      settle
      run_wrk "score$tag#$k" "$c" PUT "/api/v1/assignments/%s/scores" "$OUT/scores.items" "$SCORES_BODY"
      settle
      run_pgbench "pg_score$tag#$k" "$c" "$HERE/pgbench_score.sql"
    done
    summarize "submit$tag" "pg_submit$tag" "$c"
    summarize "score$tag" "pg_score$tag" "$c"
  done
}

# measure_gated TAG PORT: the score step and its twin again, at each level above one connection,
# on a server of its own whose transactions take turns (database.write_concurrency = GATED; the
# default, the pool's size, sets no limit), so the report can weigh its tail against its rate.
measure_gated() {
  local tag=$1 port=$2 c k
  GONGYI__DATABASE__WRITE_CONCURRENCY="$GATED" start_server "$port"
  for c in $CONNS; do
    [ "$c" -gt 1 ] || continue
    for k in $(seq 1 "$REPS"); do
      settle
      run_wrk "score_gated$tag#$k" "$c" PUT "/api/v1/assignments/%s/scores" "$OUT/scores.items" "$SCORES_BODY"
      settle
      run_pgbench "pg_score_gated$tag#$k" "$c" "$HERE/pgbench_score.sql"
    done
    summarize "score_gated$tag" "pg_score_gated$tag" "$c"
  done
  stop_server
}

measure_writes ""
for c in $CONNS; do
  settle
  for k in $(seq 1 "$REPS"); do
    run_wrk "read#$k" "$c" GET "/api/v1/applications/%s" "$OUT/read.items"
    run_pgbench "pg_read#$k" "$c" "$HERE/pgbench_read.sql"
    run_pgbench "pg_pk#$k" "$c" "$HERE/pgbench_pk.sql"
  done
  run_wrk "list#1" "$c" GET "/api/v1/applications?limit=50" "$OUT/admin.items"
  summarize read pg_read "$c"
  summarize read pg_pk "$c"
  summarize list pg_pk "$c"
done

# The web pages against the JSON answers they are built from, at 8 connections: the same user,
# a session cookie for the page and a bearer token for the JSON.
PAGE_CONNS=8
for k in $(seq 1 "$REPS"); do
  COOKIE="$APPLICANT_COOKIE" run_wrk "app_page#$k" $PAGE_CONNS GET "/applications/%s" "$OUT/page-app.items"
  run_wrk "app_json#$k" $PAGE_CONNS GET "/api/v1/applications/%s" "$OUT/page-app.items"
  COOKIE="$FINANCE_COOKIE" run_wrk "finance_page#$k" $PAGE_CONNS GET "/" "$OUT/finance.items"
  run_wrk "payouts_json#$k" $PAGE_CONNS GET "/api/v1/payouts?status=requested" "$OUT/finance.items"
done
summarize app_page app_json $PAGE_CONNS
summarize finance_page payouts_json $PAGE_CONNS

# Peak RSS of the HTTP load alone (the ranking below builds a 6 MB answer and raises it).
RSS_LOAD_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")

# Submissions really happened (and nothing else changed state by accident).
SUBMITTED=$(q "SELECT count(*) FROM applications WHERE round_id = '$OPEN_ROUND' AND status = 'submitted' AND id IN (SELECT md5('bench-draft-' || d)::uuid FROM generate_series(1, $((3 * ORGS))) d)")
OUTBOX=$(q "SELECT count(*) FROM email_outbox WHERE kind = 'application_received'")

log "ranking of round $REVIEW_ROUND ($REVIEW_APPS applications x 5 reviews), JSON and page interleaved"
RANK_TIMES=()
PAGE_TIMES=()
timed() { # OUTFILE URL HEADER -> milliseconds (exits unless 200)
  local t
  t=$(curl -s -o "$1" -w '%{http_code} %{time_total}' "$2" -H "$3")
  [ "${t%% *}" = 200 ] || { echo "$2 answered ${t%% *}" >&2; head -c 400 "$1" >&2; exit 1; }
  awk -v s="${t#* }" 'BEGIN {printf "%.0f", s * 1000}'
}
for i in 1 2 3 4 5 6; do
  ms=$(timed "$OUT/ranking.json" "$URL/api/v1/rounds/$REVIEW_ROUND/ranking" "authorization: Bearer $ADMIN_TOKEN")
  pms=$(timed "$OUT/ranking.html" "$URL/rounds/$REVIEW_ROUND/ranking" "Cookie: $ADMIN_COOKIE")
  # The first run warms the caches.
  [ "$i" = 1 ] || { RANK_TIMES+=("$ms"); PAGE_TIMES+=("$pms"); }
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
RANK_SORTED=$(printf '%s\n' "${RANK_TIMES[@]}" | sort -n | tr '\n' ' ')
RANK_MEDIAN=$(median "${RANK_TIMES[@]}")
PAGE_SORTED=$(printf '%s\n' "${PAGE_TIMES[@]}" | sort -n | tr '\n' ' ')
PAGE_MEDIAN=$(median "${PAGE_TIMES[@]}")
RANK_BYTES=$(wc -c <"$OUT/ranking.json")

# List pages at the current size, then grown to LIST_ROWS: first page and a page deep in the list.
cursor_at() { # the cursor the service would issue after the row at OFFSET (keyset order)
  local row
  row=$(q "SELECT (extract(epoch FROM created_at) * 1000000)::bigint || '|' || id FROM applications ORDER BY created_at, id OFFSET $1 LIMIT 1")
  printf '%s' "$row" | base64 -w0 | tr '+/' '-_' | tr -d '='
}
list_step() { # LABEL
  local label=$1 rows cursor
  rows=$(q "SELECT count(*) FROM applications")
  cursor=$(cursor_at $((rows / 2)))
  run_wrk "list_first@$label" 8 GET "/api/v1/applications?limit=50" "$OUT/admin.items"
  run_wrk "list_deep@$label" 8 GET "/api/v1/applications?limit=50&cursor=$cursor" "$OUT/admin.items"
  local ts us
  ts=$(q "SELECT created_at FROM applications ORDER BY created_at, id OFFSET $((rows / 2)) LIMIT 1")
  us=$(q "SELECT id FROM applications ORDER BY created_at, id OFFSET $((rows / 2)) LIMIT 1")
  # The deep page's query as the service issues it, and (for comparison) without the sargable
  # `created_at >= cursor` bound it had before issue #7.
  {
    echo "rows: $rows"
    psql "$BENCH_URL" -qtAX -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
      SELECT * FROM applications WHERE created_at >= '$ts'
        AND (created_at > '$ts' OR (created_at = '$ts' AND id > '$us'))
      ORDER BY created_at, id LIMIT 51"
  } >"$OUT/plan-$label.txt"
  psql "$BENCH_URL" -qtAX -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
      SELECT * FROM applications WHERE created_at > '$ts' OR (created_at = '$ts' AND id > '$us')
      ORDER BY created_at, id LIMIT 51" >"$OUT/plan-old-$label.txt"
  echo "$rows" >"$OUT/rows-$label.txt"
}
list_step small
if [ "$QUICK" = 0 ]; then
  log "growing applications to $LIST_ROWS rows"
  grow_start=$(date +%s)
  psql "$BENCH_URL" -q -v target="$LIST_ROWS" -v orgs="$ORGS" -f "$HERE/grow.sql" >/dev/null
  grow_secs=$(($(date +%s) - grow_start))
  list_step large
fi

RSS_PEAK_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
RSS_NOW_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
stop_server
measure_gated "" $((PORT + 2))
MAIN_FSYNC=$(psql "$ADMIN_URL" -qtAX -c 'show fsync')
MAIN_SYNC=$(psql "$ADMIN_URL" -qtAX -c 'show synchronous_commit')

# The write steps again on a durable cluster of the bench's own (scripts/db.sh, fsync and
# synchronous_commit on), with its own fresh copy of the data set.
if [ "$DURABLE" = 1 ]; then
  log "durable cluster on port $DURABLE_PORT"
  DURABLE_URL=$(GONGYI_PG_CLUSTER=bench-durable GONGYI_PG_PORT="$DURABLE_PORT" GONGYI_PG_DURABLE=1 \
    bash -c "source '$ROOT/scripts/db.sh' && unset DATABASE_URL && db_ensure >/dev/null && echo \$DATABASE_URL")
  MAIN_ADMIN_URL="$ADMIN_URL"
  MAIN_BENCH_URL="$BENCH_URL"
  prepare_db "$DURABLE_URL"
  DURABLE_FSYNC=$(psql "$ADMIN_URL" -qtAX -c 'show fsync')
  DURABLE_SYNC=$(psql "$ADMIN_URL" -qtAX -c 'show synchronous_commit')
  start_server $((PORT + 1))
  work_lists
  measure_writes "@durable"
  stop_server
  measure_gated "@durable" $((PORT + 3))
  psql "$ADMIN_URL" -qtAc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null || true
  ADMIN_URL="$MAIN_ADMIN_URL"
  BENCH_URL="$MAIN_BENCH_URL"
fi

CRITERION=""
if [ "$QUICK" = 0 ]; then
  log "criterion micro-benchmarks"
  cargo_locked bench --bench rules -- --warm-up-time 1 --measurement-time 3 --output-format bencher \
    2>/dev/null | grep '^test ' >"$OUT/criterion.txt" || true
  CRITERION=$(cat "$OUT/criterion.txt")
fi

# ---------------------------------------------------------------- report
get() { awk -F'\t' -v n="$1" -v c="$2" -v col="$3" '$1 == n && $2 == c {print $col}' "$RESULTS"; }
# pair NAME TWIN CONNS COL: a column of pairs.tsv (4 rps, 5 p50, 6 p99, 7 requests, 8 errors,
# 9 twin rps, 10 twin p99, 11 ratio, 12 lowest ratio, 13 highest ratio)
pair() { awk -F'\t' -v n="$1" -v t="$2" -v c="$3" -v col="$4" '$1 == n && $2 == t && $3 == c {print $col}' "$PAIRS"; }
spread() { echo "$(pair "$1" "$2" "$3" 12)–$(pair "$1" "$2" "$3" 13)%"; }
twin_of() { case "$1" in submit*) echo pg_submit ;; score*) echo pg_score ;; *) echo pg_pk ;; esac; }
times_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
verdict() { # VALUE OP LIMIT -> "met" / "missed by X"
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == ">=") ? (v >= l) : (v <= l)
    if (ok) print "met"; else if (op == ">=") printf "MISSED by %.0f points\n", l - v; else printf "MISSED by %.1f\n", v - l }'
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print 0 }'; }
# cpu_of NAME CONNS COL: CPU µs per request of NAME's steps at CONNS (all its repetitions
# together; COL 4 service, 5 Postgres, 6 load generator, 7 all three).
cpu_of() {
  awk -F'\t' -v n="$1" -v c="$2" -v col="$3" '{ b = $1; sub(/#.*/, "", b) }
    b == n && $2 == c { r += $3; v[4] += $4; v[5] += $5; v[6] += $6; v[7] += $4 + $5 + $6 }
    END { if (r > 0) printf "%.0f", v[col] / r; else print "" }' "$CPU"
}

{
  echo "# Performance"
  echo
  echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') — do not edit the figures by hand;"
  echo "the analysis at the end is kept in \`scripts/bench/analysis.md\`. Rerun: \`scripts/bench.sh\`"
  echo "(\`--quick\` skips the 1M-row step and criterion)."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') — $(nproc) cores (a virtual machine;"
  echo "  load average $LOAD_BEFORE just before the load steps). Absolute figures move from run to"
  echo "  run; the ratios (each API figure over its pgbench twin, taken seconds apart in the same run)"
  echo "  are the meaningful part."
  echo "- Memory: $(free -m | awk '/^Mem:/ {print $2}') MB; kernel $(uname -r); $(psql "$ADMIN_URL" -qtAX -c 'select version()' | cut -d, -f1)"
  echo "  (shared_buffers $(psql "$ADMIN_URL" -qtAX -c 'show shared_buffers'), synchronous_commit $MAIN_SYNC, fsync $MAIN_FSYNC)."
  echo "- Service: release build, production settings (pool_max_size $(grep -m1 pool_max_size config/default.toml | awk '{print $3}'),"
  echo "  write_concurrency $DEFAULT_WC,"
  echo "  HTTP workers = cores), email sender off, log level warn. Load: wrk $(wrk -v 2>&1 | head -n 1 | awk '{print $2}'),"
  echo "  ${DURATION}s per step, 1–2 wrk threads; pgbench with \`-M prepared\`. wrk, the service and"
  echo "  Postgres all share the same 2 cores. Each ratio is the median of $REPS interleaved pairs"
  echo "  (service, twin, service, twin, …); the figures shown are the median pair's, and the spread"
  echo "  column gives the lowest and highest of the pairs' ratios."
  echo
  echo "## Data set"
  echo
  echo "Seeded with SQL in ${seed_secs}s (\`scripts/bench/seed.sql\`) on top of \`gongyi seed-demo\`: $ORGS"
  echo "organizations (one applicant and an API token each) with 3 drafts each in the open round"
  echo "(budgets of 3 lines consistent with the round's rules), a reviewing round of $REVIEW_APPS"
  echo "applications with budgets and 5 submitted score sheets each, $TWIN_ORGS more organizations"
  echo "whose drafts only the pgbench twin touches. $APPS_AT_START applications at the start."
  echo
  echo "## HTTP against the database's own limit"
  echo
  echo "Requests/s, p50 and p99 in ms (wrk). Each submit request submits a *different* draft with"
  echo "its organization's token (auth, validation, quota lock, update, audit, outbox); a non-2xx"
  echo "answer counts as an error. Read = \`GET /applications/{id}\` by the owning applicant; list ="
  echo "\`GET /applications?limit=50\` as admin; score = \`PUT /assignments/{id}/scores\` by a reviewer."
  echo "Each write step and each step after one starts after a VACUUM and a CHECKPOINT, so the"
  echo "previous step's background work is not billed to it."
  echo "The twins: \`pgbench_submit.sql\` is the submit path's SQL statement for statement (token lookup,"
  echo "transaction with both locks, count, budget lines, update, audit insert, recipients, outbox insert;"
  echo "sent one by one, where the service pipelines them); \`pgbench_score.sql\` the score save's (token"
  echo "lookup; the scoped read, then the round and the assignment's lock pipelined, then the update and its"
  echo "audit event); \`pgbench_pk.sql\` is a primary-key select of an application."
  echo
  echo "| conns | endpoint | req/s | p50 ms | p99 ms | requests | errors | twin | twin tps | twin p99 ms | ratio | spread |"
  echo "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
  for c in $CONNS; do
    for e in submit read list score; do
      tw=$(twin_of "$e")
      echo "| $c | $e | $(pair "$e" $tw "$c" 4) | $(pair "$e" $tw "$c" 5) | $(pair "$e" $tw "$c" 6) | $(pair "$e" $tw "$c" 7) | $(pair "$e" $tw "$c" 8) | $tw | $(pair "$e" $tw "$c" 9) | $(pair "$e" $tw "$c" 10) | $(pair "$e" $tw "$c" 11)% | $(spread "$e" $tw "$c") |"
    done
  done
  echo
  echo "The read path against its own SQL (\`pgbench_read.sql\`: the token lookup, then the"
  echo "application and its budget lines pipelined, as the service sends them), to tell the"
  echo "database's share of a read from the service's:"
  echo
  echo "| conns | read req/s | read p99 ms | pg_read tps | pg_read p99 ms | ratio | spread |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  for c in $CONNS; do
    echo "| $c | $(pair read pg_read "$c" 4) | $(pair read pg_read "$c" 6) | $(pair read pg_read "$c" 9) | $(pair read pg_read "$c" 10) | $(pair read pg_read "$c" 11)% | $(spread read pg_read "$c") |"
  done
  echo
  if [ -s "$CPU" ]; then
    echo "## Where the CPU goes"
    echo
    echo "CPU time per request in µs (user + system, from \`/proc\`, all repetitions of a step"
    echo "together): the service, the Postgres server (every backend and its background processes)"
    echo "and the load generator (wrk for the service, pgbench for the twin). Above one"
    echo "connection the 2 cores are busy, so a step's throughput is about 2 cores over its total:"
    echo "the *ceiling* is the twin's total over the endpoint's, the ratio no service could beat"
    echo "on this machine while it costs what it does; beside it the ratio measured."
    echo
    echo "| conns | endpoint | service µs | Postgres µs | wrk µs | total µs | twin | Postgres µs | pgbench µs | total µs | ceiling | measured |"
    echo "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    for c in $CONNS; do
      [ "$c" -gt 1 ] || continue
      for pp in "submit pg_submit" "score pg_score" "read pg_read"; do
        set -- $pp
        [ -n "$(cpu_of "$1" "$c" 7)" ] && [ -n "$(cpu_of "$2" "$c" 7)" ] || continue
        echo "| $c | $1 | $(cpu_of "$1" "$c" 4) | $(cpu_of "$1" "$c" 5) | $(cpu_of "$1" "$c" 6) | $(cpu_of "$1" "$c" 7) | $2 | $(cpu_of "$2" "$c" 5) | $(cpu_of "$2" "$c" 6) | $(cpu_of "$2" "$c" 7) | $(pct "$(cpu_of "$2" "$c" 7)" "$(cpu_of "$1" "$c" 7)")% | $(pair "$1" "$2" "$c" 11)% |"
      done
    done
    for pp in "app_page app_json" "finance_page payouts_json"; do
      set -- $pp
      [ -n "$(cpu_of "$1" $PAGE_CONNS 7)" ] || continue
      echo "| $PAGE_CONNS | $1 | $(cpu_of "$1" $PAGE_CONNS 4) | $(cpu_of "$1" $PAGE_CONNS 5) | $(cpu_of "$1" $PAGE_CONNS 6) | $(cpu_of "$1" $PAGE_CONNS 7) | $2 | $(cpu_of "$2" $PAGE_CONNS 5) | $(cpu_of "$2" $PAGE_CONNS 6) | $(cpu_of "$2" $PAGE_CONNS 7) | $(pct "$(cpu_of "$2" $PAGE_CONNS 7)" "$(cpu_of "$1" $PAGE_CONNS 7)")% | $(pair "$1" "$2" $PAGE_CONNS 11)% |"
    done
    echo
    echo "(For the pages the twin is the JSON answer, from the same service and driven by wrk: its"
    echo "two middle columns are its Postgres and wrk µs, and its total includes its service µs.)"
    echo
  fi
  echo "## Web pages against their JSON"
  echo
  echo "Each page against the JSON answer it is built from, the same user signed in through"
  echo "\`POST /login\` (the CSRF token from \`GET /login\`; wrk sends the session cookie) for the page and"
  echo "with a bearer token for the JSON, $PAGE_CONNS connections. Application = \`GET /applications/{id}\` vs"
  echo "\`GET /api/v1/applications/{id}\` by its applicant; finance dashboard = \`GET /\` as finance1 vs"
  echo "\`GET /api/v1/payouts?status=requested\`."
  echo
  echo "| conns | page | req/s | p50 ms | p99 ms | errors | JSON | JSON req/s | JSON p99 ms | ratio | spread |"
  echo "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"
  for pp in "app_page app_json" "finance_page payouts_json"; do
    set -- $pp
    echo "| $PAGE_CONNS | $1 | $(pair "$1" "$2" $PAGE_CONNS 4) | $(pair "$1" "$2" $PAGE_CONNS 5) | $(pair "$1" "$2" $PAGE_CONNS 6) | $(pair "$1" "$2" $PAGE_CONNS 8) | $2 | $(pair "$1" "$2" $PAGE_CONNS 9) | $(pair "$1" "$2" $PAGE_CONNS 10) | $(pair "$1" "$2" $PAGE_CONNS 11)% | $(spread "$1" "$2" $PAGE_CONNS) |"
  done
  echo
  echo "Ranking page \`GET /rounds/{id}/ranking\` (first 100 rows) on the $REVIEW_APPS × 5 round, as admin,"
  echo "one client, 5 timed runs interleaved with the JSON ranking's: **median ${PAGE_MEDIAN} ms** (runs:"
  echo "${PAGE_SORTED}ms), $(times_of "$PAGE_MEDIAN" "$RANK_MEDIAN")× the JSON's ${RANK_MEDIAN} ms."
  if [ "$DURABLE" = 1 ]; then
    echo
    echo "## Write steps on a durable cluster"
    echo
    echo "The submit and score steps and their twins again, on a cluster of the bench's own"
    echo "(\`scripts/db.sh\`, port $DURABLE_PORT: fsync $DURABLE_FSYNC, synchronous_commit $DURABLE_SYNC) with a fresh"
    echo "copy of the data set, so each commit waits for its flush."
    echo
    echo "| conns | endpoint | req/s | p50 ms | p99 ms | requests | errors | twin | twin tps | twin p99 ms | ratio | spread |"
    echo "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    for c in $CONNS; do
      for e in submit score; do
        n="$e@durable" tw="$(twin_of "$e")@durable"
        echo "| $c | $e | $(pair "$n" "$tw" "$c" 4) | $(pair "$n" "$tw" "$c" 5) | $(pair "$n" "$tw" "$c" 6) | $(pair "$n" "$tw" "$c" 7) | $(pair "$n" "$tw" "$c" 8) | ${tw%@durable} | $(pair "$n" "$tw" "$c" 9) | $(pair "$n" "$tw" "$c" 10) | $(pair "$n" "$tw" "$c" 11)% | $(spread "$n" "$tw" "$c") |"
      done
    done
  fi
  echo
  echo "## Score saves with fewer transactions at once"
  echo
  echo "The score step and its twin again on a server of its own started with"
  echo "\`database.write_concurrency = $GATED\` (transactions at once, shared out between the workers; the"
  echo "default, the pool's size, sets no limit), beside the default server's figures from the tables above."
  echo
  echo "| cluster | conns | write_concurrency | req/s | p50 ms | p99 ms | twin tps | twin p99 ms | ratio | spread | p99 × twin's |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for tag in "" "@durable"; do
    [ -z "$tag" ] || [ "$DURABLE" = 1 ] || continue
    for c in $CONNS; do
      [ "$c" -gt 1 ] || continue
      for v in "score pg_score $DEFAULT_WC" "score_gated pg_score_gated $GATED"; do
        set -- $v
        n="$1$tag" tw="$2$tag"
        echo "| $(if [ -n "$tag" ]; then echo durable; else echo "fsync $MAIN_FSYNC"; fi) | $c | $3 | $(pair "$n" "$tw" "$c" 4) | $(pair "$n" "$tw" "$c" 5) | $(pair "$n" "$tw" "$c" 6) | $(pair "$n" "$tw" "$c" 9) | $(pair "$n" "$tw" "$c" 10) | $(pair "$n" "$tw" "$c" 11)% | $(spread "$n" "$tw" "$c") | $(times_of "$(pair "$n" "$tw" "$c" 6)" "$(pair "$n" "$tw" "$c" 10)")× |"
      done
    done
  done
  echo
  echo "After the run: $SUBMITTED bench drafts are \`submitted\` (the submit steps' 2xx answers plus the"
  echo "few in flight when wrk stopped counting) and $OUTBOX \`application_received\` emails wait in the"
  echo "outbox (two per submission: the applicant and the organization's contact, the pgbench twin's included)."
  echo
  echo "## Ranking"
  echo
  echo "\`GET /api/v1/rounds/{id}/ranking\` on the reviewing round ($REVIEW_APPS applications × 5 reviews,"
  echo "$((RANK_BYTES / 1024)) KiB of JSON), one client, 5 timed runs after a warm-up: **median ${RANK_MEDIAN} ms**"
  echo "(runs: ${RANK_SORTED}ms)."
  echo
  echo "## List pages at two table sizes"
  echo
  echo "\`GET /applications?limit=50\` as admin at 8 connections: the first page and a page whose cursor"
  echo "points to the middle of the table."
  echo
  echo "| rows | page | req/s | p50 ms | p99 ms |"
  echo "|---:|---|---:|---:|---:|"
  for label in small large; do
    [ -f "$OUT/rows-$label.txt" ] || continue
    for p in first deep; do
      echo "| $(cat "$OUT/rows-$label.txt") | $p | $(get "list_$p@$label" 8 3) | $(get "list_$p@$label" 8 4) | $(get "list_$p@$label" 8 5) |"
    done
  done
  [ -n "${grow_secs:-}" ] && echo && echo "(Grown to $LIST_ROWS rows with \`scripts/bench/grow.sql\` in ${grow_secs}s.)"
  for label in small large; do
    [ -f "$OUT/plan-$label.txt" ] || continue
    echo
    echo "Plan of the deep page's query at $(head -n 1 "$OUT/plan-$label.txt" | cut -d' ' -f2) rows (as the service issues it):"
    echo
    echo '```'
    tail -n +2 "$OUT/plan-$label.txt"
    echo '```'
    echo
    echo "The same page without the \`created_at >= cursor\` bound (the query before this change):"
    echo
    echo '```'
    cat "$OUT/plan-old-$label.txt"
    echo '```'
  done
  echo
  echo "## Memory"
  echo
  echo "Server peak RSS (VmHWM): **$((RSS_LOAD_KB / 1024)) MB** after the HTTP load at 1, 8 and 32 connections;"
  echo "**$((RSS_PEAK_KB / 1024)) MB** after everything (the ranking runs and the list steps; RSS at the end"
  echo "$((RSS_NOW_KB / 1024)) MB)."
  echo
  echo "Where the peak rose (VmHWM after each load step; rises of 4 MB or more, in step order):"
  awk -F'\t' 'BEGIN { prev = 0; n = 0 }
    { if (prev > 0 && $3 - prev >= 4096) { printf "%s%s c=%s +%d MB (to %d MB)", (n++ ? "; " : ""), $1, $2, ($3 - prev) / 1024, $3 / 1024 }
      if ($3 > prev) prev = $3 }
    END { if (!n) printf "no single step raised it by 4 MB"; print "." }' "$OUT/rss.tsv" 2>/dev/null || echo "(no samples)."
  echo
  echo "## Targets"
  echo
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  for tag in "" "@durable"; do
    [ -z "$tag" ] || [ "$DURABLE" = 1 ] || continue
    for c in $CONNS; do
      sr=$(pair "submit$tag" "pg_submit$tag" "$c" 11)
      echo "| submit ≥ 60% of its twin ($c conns${tag:+, durable}) | ${sr}% ($(spread "submit$tag" "pg_submit$tag" "$c")) | $(verdict "$sr" ">=" 60) |"
    done
    for c in $CONNS; do
      sr=$(pair "score$tag" "pg_score$tag" "$c" 11)
      echo "| score ≥ 60% of its twin ($c conns${tag:+, durable}) | ${sr}% ($(spread "score$tag" "pg_score$tag" "$c")) | $(verdict "$sr" ">=" 60) |"
    done
    for e in submit score; do
      a=$(pair "$e$tag" "$(twin_of $e)$tag" 32 6); b=$(pair "$e$tag" "$(twin_of $e)$tag" 32 10)
      x=$(times_of "$a" "$b")
      echo "| $e p99 ≤ 1.5× its twin's at 32 conns${tag:+ (durable)} ($a vs $b ms) | ${x}× | $(verdict "$x" "<=" 1.5) |"
    done
  done
  for tag in "" "@durable"; do
    [ -z "$tag" ] || [ "$DURABLE" = 1 ] || continue
    a=$(pair "score_gated$tag" "pg_score_gated$tag" 32 6); b=$(pair "score_gated$tag" "pg_score_gated$tag" 32 10)
    x=$(times_of "$a" "$b")
    echo "| score p99 ≤ 1.5× its twin's at 32 conns${tag:+ (durable)}, write_concurrency $GATED ($a vs $b ms) | ${x}× | $(verdict "$x" "<=" 1.5) |"
  done
  for c in $CONNS; do
    rr=$(pair read pg_read "$c" 11)
    echo "| read ≥ 70% of its SQL twin ($c conns) | ${rr}% ($(spread read pg_read "$c")) | $(verdict "$rr" ">=" 70) |"
  done
  for c in $CONNS; do
    rr=$(pair read pg_pk "$c" 11)
    echo "| authenticated read ≥ 30% of pk select ($c conns) | ${rr}% ($(spread read pg_pk "$c")) | $(verdict "$rr" ">=" 30) |"
  done
  for e in submit read list score; do
    tw=$(twin_of "$e")
    p=$(pair "$e" $tw 32 6)
    echo "| p99 ≤ 20 ms at 32 conns: $e (its twin: $(pair "$e" $tw 32 10) ms) | ${p} ms | $(verdict "$p" "<=" 20) |"
  done
  for pp in "app_page app_json" "finance_page payouts_json"; do
    set -- $pp
    pr=$(pair "$1" "$2" $PAGE_CONNS 11)
    echo "| $1 ≥ 60% of $2 ($PAGE_CONNS conns) | ${pr}% ($(spread "$1" "$2" $PAGE_CONNS)) | $(verdict "$pr" ">=" 60) |"
  done
  x=$(times_of "$PAGE_MEDIAN" "$RANK_MEDIAN")
  echo "| ranking page within 1.5× the JSON ranking's time | ${x}× ($PAGE_MEDIAN vs $RANK_MEDIAN ms) | $(verdict "$x" "<=" 1.5) |"
  echo "| ranking 10k × 5 ≤ 150 ms | ${RANK_MEDIAN} ms | $(verdict "$RANK_MEDIAN" "<=" 150) |"
  if [ -f "$OUT/rows-large.txt" ]; then
    a=$(get "list_deep@small" 8 4); b=$(get "list_deep@large" 8 4)
    echo "| list page flat from $(cat "$OUT/rows-small.txt") to $(cat "$OUT/rows-large.txt") rows (deep page p50) | $a → $b ms | $(awk -v a="$a" -v b="$b" 'BEGIN { if (b <= a * 1.5 + 0.5) print "met"; else printf "MISSED (x%.1f)\n", b / a }') |"
  fi
  echo "| peak RSS ≤ 80 MB under the HTTP load | $((RSS_LOAD_KB / 1024)) MB | $(verdict $((RSS_LOAD_KB / 1024)) "<=" 80) |"
  echo "| peak RSS ≤ 80 MB including the ranking | $((RSS_PEAK_KB / 1024)) MB | $(verdict $((RSS_PEAK_KB / 1024)) "<=" 80) |"
  echo
  echo "req/s counts successful (2xx) answers only, so errors never inflate a ratio."
  if [ -n "$CRITERION" ]; then
    echo
    echo "## Criterion micro-benchmarks (\`cargo bench --bench rules\`)"
    echo
    echo '```'
    echo "$CRITERION"
    echo '```'
  fi
  echo
  echo "## Raw output"
  echo
  echo "wrk and pgbench outputs of this run are in \`target/bench/\` (not committed)."
  echo
  cat "$HERE/analysis.md"
} >"$DOC"
log "wrote $DOC"
