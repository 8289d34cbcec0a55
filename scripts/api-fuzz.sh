#!/usr/bin/env bash
# Property-based fuzzing of the ingest API against its own OpenAPI document, with schemathesis:
# no request may get a 5xx (not_a_server_error), and no request the document calls valid may be
# refused (positive_data_acceptance: a 4xx other than 401/403/404/409/429). Starts the debug
# server on a fresh SQLite database seeded with a few merchants, and an API key for it.
# Bounded: FUZZ_MAX_EXAMPLES cases per operation (default 150), about a minute here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
venv="$HOME/.cache/vetted-venv"
bin="$CARGO_TARGET_DIR/debug/vetted"
[ -x "$bin" ] || { echo "no server binary at $bin: run make build first" >&2; exit 1; }
[ -x "$venv/bin/schemathesis" ] || { echo "schemathesis is missing: run scripts/install-deps.sh" >&2; exit 1; }

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A server of its own: its own database and port, no Redis, no PayPal.
export DATABASE_URL="sqlite://$work/fuzz.db?mode=rwc" VETTED_ADDR="127.0.0.1:${FUZZ_PORT:-3210}" RUST_LOG="${RUST_LOG:-warn}"
unset REDIS_URL DATABASE_READ_URL PAYPAL_CLIENT_ID PAYPAL_CLIENT_SECRET
"$bin" seed --merchants 20 --transactions 2000 >/dev/null
key="$("$bin" create-api-key --name api-fuzz | grep -o 'vtd_[A-Za-z0-9_-]*' | head -1)"
[ -n "$key" ] || { echo "could not create an API key" >&2; exit 1; }
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -fsS "http://$VETTED_ADDR/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done

status=0
"$venv/bin/schemathesis" run "http://$VETTED_ADDR/api/v1/openapi.json" \
  --url "http://$VETTED_ADDR" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,positive_data_acceptance \
  --max-examples "${FUZZ_MAX_EXAMPLES:-150}" \
  --seed "${FUZZ_SEED:-26}" \
  --request-timeout 10 \
  --output-sanitize true || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines)" >&2
  tail -50 "$work/server.log" >&2
fi
exit "$status"
