#!/usr/bin/env bash
# `make bench-web`: Lighthouse (mobile defaults, Debian's Chromium, headless) on the release build's
# pages, signed in, scored against issue 26's targets and appended to docs/benchmarks.md.
#
# It builds the release (`make build-release`, precompressed assets) into a site folder of its own
# (a build empties its site folder, and `make build` / the browser tests use target/site), starts
# the release binary on its own port with a fresh SQLite database, signs in, and hands over to
# scripts/bench-web.mjs, which runs Lighthouse and writes the table.
#
#   BENCH_WEB_SKIP_BUILD=1   measure the release binary already built (same code, no rebuild)
#   BENCH_WEB_RUNS=3         Lighthouse runs per page; the median run (by performance) is reported
#   BENCH_WEB_NO_RECORD=1    print the table, do not append it to docs/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
export LEPTOS_SITE_ROOT="$repo/target/site-release"
source scripts/toolchain.sh

if [ "${BENCH_WEB_SKIP_BUILD:-0}" != 1 ]; then
  make --no-print-directory build-release
fi
binary="$CARGO_TARGET_DIR/release/vetted"
[ -x "$binary" ] || { echo "bench-web: no release binary at $binary (run without BENCH_WEB_SKIP_BUILD)" >&2; exit 1; }
[ -f "$CARGO_TARGET_DIR/release/hash.txt" ] || { echo "bench-web: no hash.txt beside $binary: not a hashed build" >&2; exit 1; }

mkdir -p data target/bench-web
rm -f data/bench-web.db data/bench-web.db-wal data/bench-web.db-shm
port=3200
base="http://127.0.0.1:$port"
if curl -s -o /dev/null "$base/healthz"; then
  echo "bench-web: something already listens on port $port" >&2
  exit 1
fi

log="target/bench-web/server.log"
(
  export DATABASE_URL="sqlite://data/bench-web.db?mode=rwc" VETTED_ADDR="127.0.0.1:$port"
  export VETTED_PAYPAL_SIM_ADDR="127.0.0.1:3205" RUST_LOG="${RUST_LOG:-warn}"
  unset REDIS_URL DATABASE_READ_URL
  exec "$binary" serve --seed-if-empty --paypal-sim
) >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

# Seeding 50,000 transactions takes a while on a fresh database; 5 minutes at most.
for _ in $(seq 1 300); do
  if curl -sf -o /dev/null "$base/readyz"; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "bench-web: the server stopped; its log ($log):" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  sleep 1
done
curl -sf -o /dev/null "$base/readyz" || { echo "bench-web: the server was not ready after 5 minutes" >&2; exit 1; }

node scripts/bench-web.mjs "$base"
