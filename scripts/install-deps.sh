#!/usr/bin/env bash
# Installs whatever the build and the tests need and is missing. Idempotent: a second run only
# checks. Never downloads from anywhere but the package registries (apt, crates.io, npm).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/toolchain.sh
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_packages=(redis-server postgresql chromium lld-19 pkg-config)
[ "$VETTED_ROUTE" = debian ] && apt_packages+=(rustc-web cargo-web rust-web-src)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if ! command -v node >/dev/null 2>&1; then
  echo "Node.js (with npm) is required for Tailwind and Playwright: apt-get install nodejs npm" >&2
  exit 1
fi

if ! cargo leptos --version >/dev/null 2>&1; then
  if command -v cargo-binstall >/dev/null 2>&1 && cargo binstall -y cargo-leptos >/dev/null 2>&1; then :; else
    say "installing cargo-leptos (about 30 minutes on 2 cores, once per machine)"
    env -u CARGO_TARGET_DIR cargo install cargo-leptos --locked --features no_downloads
  fi
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  if command -v cargo-binstall >/dev/null 2>&1 && cargo binstall -y "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" >/dev/null 2>&1; then :; else
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches the crate; about 5 minutes)"
    # Not --locked: one of its locked dependencies is no longer in the registry.
    env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages from package-lock.json"
  # `npm ci`: exactly the locked versions, and the tracked lock file is never rewritten. (The
  # lock lists every platform's optional Tailwind binary, as npm writes it; npm installs only
  # this platform's.)
  npm ci --no-audit --no-fund
fi

# schemathesis (PyPI) for `make test-api-fuzz`, pinned, in a virtualenv of its own.
SCHEMATHESIS_VERSION=4.32.5
venv="$HOME/.cache/vetted-venv"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $venv (from PyPI)"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
  fi
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
