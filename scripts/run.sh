#!/usr/bin/env bash
# Starts the service on 127.0.0.1:8080 with its database ready and migrated.
#   scripts/run.sh          # serve
#   scripts/run.sh --demo   # load the demo data set first
set -euo pipefail
cd "$(dirname "$0")/.."
# The checkout's `main` cluster (unless DATABASE_URL answers): always durable.
export GONGYI_PG_CLUSTER=main GONGYI_PG_DURABLE=1
source scripts/db.sh
db_ensure
export GONGYI_ENV="${GONGYI_ENV:-development}"
cargo build --bin gongyi
./target/debug/gongyi migrate
if [ "${1:-}" = "--demo" ]; then
  ./target/debug/gongyi seed-demo
fi
exec ./target/debug/gongyi serve
