# Two commands for a newcomer: `make run` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/toolchain.sh &&

.PHONY: run test deps fmt-check services build build-release test-rust test-api-fuzz test-e2e bench-dashboard bench-fraud bench-review bench-backtest bench-web fmt clippy clean-data

## Build, migrate, seed demo data on first run, serve http://127.0.0.1:3000 and print the demo logins
## (webhooks may go to http:// receivers on this machine, for trying them out).
run: deps build
	@$(ENV) WEBHOOKS_ALLOW_HTTP_LOOPBACK=true "$$CARGO_TARGET_DIR/debug/vetted" serve --seed-if-empty --paypal-sim

## Everything CI runs: formatting, Rust tests on SQLite and PostgreSQL, the API fuzz run, then the browser tests.
test: deps fmt-check services test-rust build test-api-fuzz test-e2e

deps:
	@scripts/install-deps.sh

services:
	@scripts/services.sh

build:
	@$(ENV) cargo leptos build $$LEPTOS_LIB_ARGS

build-release:
	@$(ENV) cargo leptos build --release --precompress $$LEPTOS_LIB_ARGS

test-rust:
	@$(ENV) cargo test --features ssr --no-fail-fast

## The ingest API fuzzed against its OpenAPI document (schemathesis): no 5xx, and no request the
## document calls valid refused. Needs the server built (make build).
test-api-fuzz:
	@scripts/api-fuzz.sh

test-e2e:
	@$(ENV) npx playwright test --config end2end/playwright.config.ts

## p50/p99 time to first byte and to the complete dashboard at 50 concurrent merchants.
bench-dashboard: deps services
	@$(ENV) cargo bench --features ssr --bench dashboard

## Fraud rule evaluation throughput (seeded and 50 rules) and ingest → decision over HTTP on SQLite and PostgreSQL.
bench-fraud: deps services
	@$(ENV) cargo bench --features ssr --bench fraud

## The review queue on over a million cases, SQLite and PostgreSQL (seeds them once, ~/.cache/vetted-bench).
bench-review: deps services
	@$(ENV) cargo bench --features ssr --bench review

## A draft backtested on a million stored decisions (3 of 50 rules changed, and all 50), SQLite and PostgreSQL, and the rules page's hit counts (seeds once, ~/.cache/vetted-bench).
bench-backtest: deps services
	@$(ENV) cargo bench --features ssr --bench backtest

## Lighthouse (mobile defaults) on the release build's pages, signed in: scores, LCP, CLS, TBT, console errors, wasm bytes.
bench-web: deps
	@scripts/bench-web.sh

fmt:
	@$(ENV) cargo fmt --all

## Fails when a file is not as `make fmt` (rustfmt.toml) would write it.
fmt-check:
	@$(ENV) cargo fmt --all -- --check

clippy:
	@$(ENV) cargo clippy --features ssr --all-targets

## Start over with an empty local database (make run seeds it again).
clean-data:
	rm -rf data
