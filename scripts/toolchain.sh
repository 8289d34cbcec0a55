# Sourced by the Makefile's recipes: picks the build route and exports what it needs.
# rustup route where the wasm32 target is installed (an ordinary machine with internet);
# otherwise Debian's rustc-web, which builds the wasm32 standard library from source.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vetted-target}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v rustup >/dev/null 2>&1 && timeout 20 rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  export VETTED_ROUTE=rustup
  export PATH="$HOME/.cargo/bin:$repo_root/node_modules/.bin:$PATH"
  export LEPTOS_LIB_ARGS=""
else
  export VETTED_ROUTE=debian
  export PATH="/usr/bin:$repo_root/node_modules/.bin:$PATH:$HOME/.cargo/bin"
  export RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19
  export LEPTOS_LIB_ARGS="--lib-cargo-args=-Zbuild-std=std,panic_abort"
fi
# cargo-leptos writes the site (wasm, js, css) here; the server serves it from the same place.
# A build empties it first: `make bench-web` builds its release into a folder of its own.
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$repo_root/target/site}"
