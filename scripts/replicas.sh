#!/usr/bin/env bash
# Two replicas over one database: two `gongyi serve` processes (ports 8081 and 8082 unless
# REPLICA_PORTS says otherwise), each with the email sender and the audit sealer on, each
# writing emails into its own directory. Races requests across them and checks that
#   - the submission quota (3 per organization and round) holds: 8 concurrent submits → 3 pass;
#   - the payout limits hold: 8 concurrent requests of 40% of a tranche → at most 2 pass, and the
#     requested total never exceeds the tranche;
#   - every outbox message is sent exactly once although both replicas run a sender;
#   - the audit chain sealed by both replicas verifies.
#
#   scripts/replicas.sh
#
# Needs a Postgres: DATABASE_URL's server if it answers, else scripts/db.sh's local cluster.
# Creates (and drops afterwards) the database gongyi_replicas_<pid>.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/db.sh
source scripts/ops/common.sh
read -r PORT_A PORT_B <<<"${REPLICA_PORTS:-8081 8082}"
WORK="$OPS_ROOT/target/replicas"

ops_build
db_ensure
DB_NAME="gongyi_replicas_$$"
export DATABASE_URL
DATABASE_URL="$(ops_fresh_db "$DATABASE_URL" "$DB_NAME")"
cleanup() {
  ops_stop_all
  psql "${DATABASE_URL%/*}/postgres" -qtAc "drop database if exists \"$DB_NAME\" with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK/mail-a" "$WORK/mail-b"
# Migrations run once, as a release step; the replicas do not migrate.
GONGYI_ENV=development "$OPS_BIN" migrate >/dev/null 2>&1
GONGYI_ENV=development "$OPS_BIN" seed-demo >/dev/null 2>&1
for r in "a $PORT_A" "b $PORT_B"; do
  set -- $r
  ops_serve "$2" "$WORK/serve-$1.log" GONGYI__EMAIL__TRANSPORT=file GONGYI__EMAIL__FILE_DIR="$WORK/mail-$1" \
    GONGYI__EMAIL__SENDER_ENABLED=true GONGYI__EMAIL__POLL_INTERVAL_MS=200 GONGYI__AUDIT__SEAL_ENABLED=true \
    GONGYI__AUDIT__SEAL_INTERVAL_MS=200
done
ops_log "replicas up on $PORT_A and $PORT_B over $DB_NAME"

A="http://127.0.0.1:$PORT_A" B="http://127.0.0.1:$PORT_B" python3 - <<'PY'
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
sys.path.insert(0, "scripts/ops")
from client import call, login, open_round, ready_draft, ok

A, B = os.environ["A"], os.environ["B"]
both = [A, B]
admin = login(A, "admin@demo.gongyi")
applicant = login(B, "applicant1@demo.gongyi")
fail = []

def race(jobs):
    with ThreadPoolExecutor(len(jobs)) as ex:
        return list(ex.map(lambda j: j(), jobs))

# 1. Quota: eight drafts of one organization, submitted at once through both replicas.
rnd = open_round(A, admin, name="双副本演练", rules={"public_notice_days": 0})
drafts = [ready_draft(both[i % 2], applicant, rnd, f"双副本项目 {i}") for i in range(8)]
answers = race([lambda i=i, d=d: call(both[i % 2], "POST", f"/api/v1/applications/{d}/submit", applicant, {})
                for i, d in enumerate(drafts)])
submitted = [d for d, r in zip(drafts, answers) if r.status == 200]
codes = sorted({r.status for r in answers})
print(f"quota: {len(submitted)} of 8 concurrent submits accepted (answers {codes})")
if len(submitted) != 3: fail.append(f"quota broken: {len(submitted)} submitted")
if any(r.status not in (200, 422, 409) for r in answers): fail.append(f"unexpected answers {answers}")

# 2. A decided round: close, screen, panel, scores, awards, finalize (no public notice).
ok(call(A, "POST", f"/api/v1/rounds/{rnd}/close", admin, {}), 200)
for d in submitted:
    ok(call(B, "POST", f"/api/v1/applications/{d}/screen", admin, {"eligible": True}), 200)
reviewers = [login(A, f"reviewer{i}@demo.gongyi") for i in (1, 2, 3)]
for t in reviewers:
    me = ok(call(A, "GET", "/api/v1/me", t), 200)
    ok(call(A, "POST", f"/api/v1/rounds/{rnd}/reviewers", admin, {"reviewer_id": me["id"]}), 200)
ok(call(A, "POST", f"/api/v1/rounds/{rnd}/assignments", admin, {"mode": "auto", "reviewers_per_application": 3}), 200, 201)
sheet = {"need_analysis": "13", "project_design": "17", "capacity": "13", "budget": "13",
         "outcomes": "13", "party_elements": "8"}
for t in reviewers:
    for d in submitted:
        a = ok(call(B, "GET", f"/api/v1/assignments?application_id={d}", t), 200)["items"][0]["id"]
        ok(call(A, "PUT", f"/api/v1/assignments/{a}/scores", t, {"scores": sheet, "comment": "需求清晰"}), 200)
        ok(call(B, "POST", f"/api/v1/assignments/{a}/submit", t, {}), 200)
ok(call(A, "POST", f"/api/v1/rounds/{rnd}/awards", admin, {}), 200)
ok(call(B, "POST", f"/api/v1/rounds/{rnd}/awards/finalize", admin, {}), 200)
grant = ok(call(A, "GET", f"/api/v1/grants?round_id={rnd}", admin), 200)["items"][0]
gid = grant["id"]
ok(call(A, "POST", f"/api/v1/grants/{gid}/milestones", admin, {"milestone": "agreement_signed"}), 200, 201)
grant = ok(call(B, "GET", f"/api/v1/grants/{gid}", admin), 200)
t1 = next(t for t in grant["tranches"] if t["number"] == 1)
tranche_amount = Decimal(t1["amount"])

# 3. Payout limits: eight requests of 40% of tranche 1 at once, two finance users, both replicas.
fin = [login(A, "finance1@demo.gongyi"), login(B, "finance2@demo.gongyi")]
part = (tranche_amount * Decimal("0.4")).quantize(Decimal("0.01"))
answers = race([lambda i=i: call(both[i % 2], "POST", f"/api/v1/grants/{gid}/payouts", fin[i % 2],
                                 {"tranche_number": 1, "amount": str(part)},
                                 headers={"Idempotency-Key": f"replicas-{i}"})
                for i in range(8)])
accepted = [r for r in answers if r.status in (200, 201)]
requested = sum(Decimal(r.json()["amount"]) for r in accepted)
print(f"payouts: {len(accepted)} of 8 concurrent requests of {part} accepted against tranche 1 of "
      f"{tranche_amount}; requested {requested} (answers {sorted({r.status for r in answers})})")
if requested > tranche_amount or len(accepted) > 2: fail.append("payout limit broken")
if not accepted: fail.append("no payout accepted at all")
if any(r.status >= 500 for r in answers): fail.append(f"5xx in payout race: {answers}")
if fail:
    print("FAIL: " + "; ".join(fail)); sys.exit(1)
PY

# 4. Emails: wait until the outbox has nothing left to send, then count deliveries per message.
for _ in $(seq 1 100); do
  LEFT=$(psql "$DATABASE_URL" -qtAc "select count(*) from email_outbox where status not in ('sent','failed')")
  [ "$LEFT" = 0 ] && break
  sleep 0.3
done
TOTAL=$(psql "$DATABASE_URL" -qtAc "select count(*) from email_outbox")
SENT=$(psql "$DATABASE_URL" -qtAc "select count(*) from email_outbox where status = 'sent'")
FILES_A=$(find "$WORK/mail-a" -name '*.eml' | wc -l)
FILES_B=$(find "$WORK/mail-b" -name '*.eml' | wc -l)
DUPES=$(find "$WORK/mail-a" "$WORK/mail-b" -name '*.eml' -printf '%f\n' | sort | uniq -d | wc -l)
ops_log "outbox: $TOTAL messages, $SENT sent; files: replica a $FILES_A, replica b $FILES_B; duplicated: $DUPES"
echo "emails: $TOTAL in the outbox, $SENT sent, delivered by replica a: $FILES_A, by b: $FILES_B, duplicates: $DUPES"
[ "$LEFT" = 0 ] && [ "$SENT" = "$TOTAL" ] && [ "$((FILES_A + FILES_B))" = "$SENT" ] && [ "$DUPES" = 0 ] ||
  { ops_log "FAIL: emails not sent exactly once"; exit 1; }

# 5. The audit chain, sealed by both replicas, verifies.
sleep 1
GONGYI_ENV=development "$OPS_BIN" audit seal >/dev/null 2>&1
GONGYI_ENV=development "$OPS_BIN" audit verify || { ops_log "FAIL: audit chain"; exit 1; }
if grep -q panicked "$WORK"/serve-*.log; then ops_log "a replica panicked"; exit 1; fi
echo "replicas: OK"
