#!/usr/bin/env bash
# Restore drill: a backup is only as good as its last restore.
#   1. builds the binary, seeds the demo data into a fresh database and runs a round through the
#      API up to payouts (requested, approved, paid);
#   2. backs it up with `pg_dump --format=custom` (docs/OPERATIONS.md says why not
#      pg_basebackup here) and restores the dump into a fresh database with pg_restore;
#   3. on the restored database: `gongyi migrate` (nothing to apply), `gongyi audit verify`
#      (the hash chain is intact), row counts of every table and the sum of every NUMERIC
#      column equal to the source's, then `gongyi serve` on it answers a grant exactly as the
#      source did.
# Exits non-zero on any difference.
#
#   scripts/restore-drill.sh
#   RESTORE_DRILL_BREAK=1 scripts/restore-drill.sh    # damages the restored copy: must fail
#
# Runs its own throwaway cluster (scripts/db.sh's `restore` cluster, port $RESTORE_PG_PORT,
# default 54349); it never touches DATABASE_URL's server.
set -euo pipefail
cd "$(dirname "$0")/.."
export GONGYI_PG_CLUSTER=restore GONGYI_PG_DURABLE=1
export GONGYI_PG_PORT="${RESTORE_PG_PORT:-54349}"
unset DATABASE_URL
source scripts/db.sh
source scripts/ops/common.sh
PORT_SRC="${RESTORE_PORT:-18290}"
PORT_DST=$((PORT_SRC + 1))
WORK="$OPS_ROOT/target/restore-drill"
STARTED=$(date +%s)

ops_build
db_local_up
BIN="$(db_bindir)"
cleanup() {
  ops_stop_all
  db_down
}
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK"
SERVER="postgres://postgres@127.0.0.1:$GONGYI_PG_PORT/postgres"
SRC="$(ops_fresh_db "$SERVER" gongyi_drill_source)"
DST_NAME=gongyi_drill_restored
psql "$SERVER" -qtAc "drop database if exists $DST_NAME with (force)" >/dev/null

# 1. Source: demo data and a round through payouts.
DATABASE_URL="$SRC" GONGYI_ENV=development "$OPS_BIN" migrate >/dev/null 2>&1
DATABASE_URL="$SRC" GONGYI_ENV=development "$OPS_BIN" seed-demo >/dev/null 2>&1
DATABASE_URL="$SRC" ops_serve "$PORT_SRC" "$WORK/serve-source.log" GONGYI__EMAIL__TRANSPORT=file \
  GONGYI__EMAIL__FILE_DIR="$WORK/mail" GONGYI__EMAIL__POLL_INTERVAL_MS=200 GONGYI__AUDIT__SEAL_INTERVAL_MS=200
ops_log "source up on $PORT_SRC: running a round through payouts"
BASE="http://127.0.0.1:$PORT_SRC" OUT="$WORK/grant.json" python3 - <<'PY'
import datetime as dt, json, os, sys
from decimal import Decimal
sys.path.insert(0, "scripts/ops")
from client import call, login, open_round, ready_draft, ok

base, out = os.environ["BASE"], os.environ["OUT"]
admin = login(base, "admin@demo.gongyi")
applicant = login(base, "applicant1@demo.gongyi")
rnd = open_round(base, admin, name="恢复演练轮次", rules={"public_notice_days": 0})
drafts = [ready_draft(base, applicant, rnd, f"恢复演练项目 {i}") for i in range(3)]
for d in drafts:
    ok(call(base, "POST", f"/api/v1/applications/{d}/submit", applicant, {}), 200)
ok(call(base, "POST", f"/api/v1/rounds/{rnd}/close", admin, {}), 200)
for d in drafts:
    ok(call(base, "POST", f"/api/v1/applications/{d}/screen", admin, {"eligible": True}), 200)
reviewers = [login(base, f"reviewer{i}@demo.gongyi") for i in (1, 2, 3)]
for t in reviewers:
    me = ok(call(base, "GET", "/api/v1/me", t), 200)
    ok(call(base, "POST", f"/api/v1/rounds/{rnd}/reviewers", admin, {"reviewer_id": me["id"]}), 200)
ok(call(base, "POST", f"/api/v1/rounds/{rnd}/assignments", admin,
        {"mode": "auto", "reviewers_per_application": 3}), 200, 201)
sheet = {"need_analysis": "13", "project_design": "17", "capacity": "13", "budget": "13",
         "outcomes": "13", "party_elements": "8"}
for t in reviewers:
    for d in drafts:
        a = ok(call(base, "GET", f"/api/v1/assignments?application_id={d}", t), 200)["items"][0]["id"]
        ok(call(base, "PUT", f"/api/v1/assignments/{a}/scores", t, {"scores": sheet, "comment": "需求清晰"}), 200)
        ok(call(base, "POST", f"/api/v1/assignments/{a}/submit", t, {}), 200)
ok(call(base, "POST", f"/api/v1/rounds/{rnd}/awards", admin, {}), 200)
ok(call(base, "POST", f"/api/v1/rounds/{rnd}/awards/finalize", admin, {}), 200)
grants = ok(call(base, "GET", f"/api/v1/grants?round_id={rnd}", admin), 200)["items"]
if not grants:
    sys.exit("FAIL: the round produced no grant")
maker, checker = login(base, "finance1@demo.gongyi"), login(base, "finance2@demo.gongyi")
gid = grants[0]["id"]
ok(call(base, "POST", f"/api/v1/grants/{gid}/milestones", admin, {"milestone": "agreement_signed"}), 200, 201)
grant = ok(call(base, "GET", f"/api/v1/grants/{gid}", admin), 200)
t1 = Decimal(next(t for t in grant["tranches"] if t["number"] == 1)["amount"])
first = (t1 * Decimal("0.6")).quantize(Decimal("0.01"))
p1 = ok(call(base, "POST", f"/api/v1/grants/{gid}/payouts", maker, {"tranche_number": 1, "amount": str(first)},
             headers={"Idempotency-Key": "drill-1"}), 201)["id"]
ok(call(base, "POST", f"/api/v1/payouts/{p1}/approve", checker, {}, headers={"Idempotency-Key": "drill-2"}), 200)
ok(call(base, "POST", f"/api/v1/payouts/{p1}/paid", checker,
        {"bank_reference": "DRILL-0001", "value_date": dt.date.today().isoformat()},
        headers={"Idempotency-Key": "drill-3"}), 200)
# A second one left requested, so the backup holds payouts in more than one state.
ok(call(base, "POST", f"/api/v1/grants/{gid}/payouts", maker, {"tranche_number": 1, "amount": str(t1 - first)},
        headers={"Idempotency-Key": "drill-4"}), 201)
grant = ok(call(base, "GET", f"/api/v1/grants/{gid}", admin), 200)
print(f"round {rnd}: {len(grants)} grant(s); grant {gid} balance {json.dumps(grant['balance'], ensure_ascii=False)}")
with open(out, "w") as f:
    json.dump(grant, f, ensure_ascii=False, sort_keys=True)
PY
# The source stops writing (sender, sealer) before the backup, so that its figures afterwards
# are the backup's; then every audit event is sealed.
ops_stop_all
DATABASE_URL="$SRC" GONGYI_ENV=development "$OPS_BIN" audit seal >/dev/null

# 2. Backup and restore.
"$BIN/pg_dump" --format=custom --file="$WORK/gongyi.dump" "$SRC"
ops_log "backup: $(du -h "$WORK/gongyi.dump" | cut -f1) ($BIN/pg_dump --format=custom)"
psql "$SERVER" -qtAc "create database $DST_NAME" >/dev/null
DST="${SERVER%/*}/$DST_NAME"
"$BIN/pg_restore" --exit-on-error --no-owner --dbname="$DST" "$WORK/gongyi.dump"
ops_log "restored into $DST_NAME"

# 3. Checks on the restored database.
FAIL=0
# RESTORE_DRILL_BREAK=1 damages the restored copy first, to see the drill fail.
if [ "${RESTORE_DRILL_BREAK:-0}" = 1 ]; then
  psql "$DST" -qtAc "delete from idempotency_keys where ctid = (select min(ctid) from idempotency_keys)" >/dev/null
  ops_log "RESTORE_DRILL_BREAK: one idempotency key deleted from the restored copy"
fi
DATABASE_URL="$DST" GONGYI_ENV=development "$OPS_BIN" migrate 2>&1 | tail -n 1
DATABASE_URL="$DST" GONGYI_ENV=development "$OPS_BIN" audit verify || { ops_log "FAIL: audit verify"; FAIL=1; }

# Row counts of every table and the sum of every NUMERIC column (the money), plus the head of
# the audit chain, as one text per database.
figures() {
  psql "$1" -qtAX <<'SQL'
DO $$
DECLARE r record; n bigint; total numeric;
BEGIN
  CREATE TEMP TABLE figures (what text PRIMARY KEY, value text);
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1 LOOP
    EXECUTE format('SELECT count(*) FROM %I', r.tablename) INTO n;
    INSERT INTO figures VALUES ('rows ' || r.tablename, n::text);
  END LOOP;
  FOR r IN SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND data_type = 'numeric' ORDER BY 1, 2 LOOP
    EXECUTE format('SELECT coalesce(sum(%I), 0) FROM %I', r.column_name, r.table_name) INTO total;
    INSERT INTO figures VALUES ('sum ' || r.table_name || '.' || r.column_name, total::text);
  END LOOP;
END $$;
INSERT INTO figures SELECT 'audit chain head', coalesce(max(seq)::text || ' ' || encode(
  (SELECT hash FROM audit_seals ORDER BY seq DESC LIMIT 1), 'hex'), 'empty') FROM audit_seals;
SELECT what || ' = ' || value FROM figures ORDER BY what;
SQL
}
figures "$SRC" >"$WORK/source.txt"
figures "$DST" >"$WORK/restored.txt"
TABLES=$(grep -c '^rows ' "$WORK/source.txt")
MONEY=$(grep -c '^sum ' "$WORK/source.txt")
if diff -u "$WORK/source.txt" "$WORK/restored.txt"; then
  ops_log "identical: row counts of $TABLES tables, sums of $MONEY NUMERIC columns, the audit chain head"
else
  ops_log "FAIL: the restored database differs from the source"; FAIL=1
fi
grep -E '^rows (applications|grants|payouts|audit_events|audit_seals) |^sum (payouts.amount|grants.amount|tranches.amount) ' "$WORK/source.txt" >&2 || true

# The restored database serves: the grant reads exactly as it did from the source.
DATABASE_URL="$DST" ops_serve "$PORT_DST" "$WORK/serve-restored.log" GONGYI__EMAIL__SENDER_ENABLED=false \
  GONGYI__RETENTION__ENABLED=false
BASE="http://127.0.0.1:$PORT_DST" GRANT="$WORK/grant.json" python3 - <<'PY' || FAIL=1
import json, os, sys
sys.path.insert(0, "scripts/ops")
from client import call, login, ok
base = os.environ["BASE"]
want = json.load(open(os.environ["GRANT"]))
admin = login(base, "admin@demo.gongyi")
got = ok(call(base, "GET", f"/api/v1/grants/{want['id']}", admin), 200)
if json.dumps(got, sort_keys=True, ensure_ascii=False) != json.dumps(want, sort_keys=True, ensure_ascii=False):
    print(f"FAIL: the restored grant differs:\n want {want}\n got  {got}"); sys.exit(1)
print(f"the restored service answers grant {want['id']} as the source did (paid {got['balance']['paid']})")
PY
if grep -q panicked "$WORK"/serve-*.log; then ops_log "FAIL: a server panicked"; FAIL=1; fi
ELAPSED=$(($(date +%s) - STARTED))
[ "$FAIL" = 0 ] || { ops_log "restore drill FAILED after ${ELAPSED}s"; exit 1; }
echo "restore drill: OK in ${ELAPSED}s (pg_dump custom format → pg_restore → migrate → audit verify → $TABLES tables and $MONEY money columns equal → serve reads the grant)"
