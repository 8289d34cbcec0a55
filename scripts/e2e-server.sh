#!/usr/bin/env bash
# The server the browser tests run against: a fresh SQLite database seeded with the demo data,
# on its own port so it never collides with `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
mkdir -p data
rm -f data/e2e.db data/e2e.db-wal data/e2e.db-shm
export DATABASE_URL="sqlite://data/e2e.db?mode=rwc" VETTED_ADDR="127.0.0.1:3100"
# The in-process PayPal simulator answers fast here; tests flip its knobs at VETTED_PAYPAL_SIM_ADDR.
export VETTED_PAYPAL_SIM_ADDR="127.0.0.1:3105" PAYPAL_BREAKER_COOLDOWN_SECS=1 PAYPAL_RETRY_AFTER_FAILURE_SECS=5
# Outbound webhooks to the tests' own receiver on loopback.
export WEBHOOKS_ALLOW_HTTP_LOOPBACK=true
exec "$CARGO_TARGET_DIR/debug/vetted" serve --seed-if-empty --paypal-sim
