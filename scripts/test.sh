#!/usr/bin/env bash
# Sets everything up and runs every test: Rust unit and integration tests (core, server,
# the real server on loopback), the generated-types drift check, the UI's type check and
# unit tests, and the end-to-end tests of the real app under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "==> no import cycles between the modules of any crate"
for crate in crates/protocol crates/core crates/server src-tauri; do
  python3 scripts/module-cycles.py "$crate"
done

echo "==> UI: type check, unit tests and the bundle (the app embeds ui/dist when it compiles)"
npm --prefix ui run check
npm --prefix ui run test
npm --prefix ui run build --silent

# Every cargo step asks for the same packages and features (the aliases in
# .cargo/config.toml), so the crate graph compiles once.
echo "==> Rust: build every binary and test target once"
cargo build-all

echo "==> Rust: unit and integration tests, the real server on loopback, and the generated"
echo "    TypeScript bindings and command map against the Rust types"
cargo test-all

echo "==> on PostgreSQL (a throwaway server from scripts/pg.sh): the server's API tests, the core + server integration tests,"
echo "    the simulation with three replicas (one killed and restarted), three real replicas behind HAProxy"
bash scripts/pg.sh run -- bash -c '
  set -e
  cargo test-all --test api
  cargo test-all --test sync --test media
  SIM_REPLICAS=3 SIM_SEEDS=${SIM_PG_SEEDS:-100} cargo test-all --test sim simulation
  cargo test-all --test cluster -- --ignored'

echo "==> end to end: the real app under Xvfb"
unset DISPLAY
timeout 600 cargo test-gui --test app -- --test-threads=1
# The screens of issue 9: offline create, two devices resolving a conflict three ways in
# the dialog, pull-to-refresh, narration played offline, hostile text, server-wins.
timeout 1200 cargo test-gui --test screens -- --test-threads=1

echo "==> packaging: the .deb of the app built above installs, and the installed app opens its window"
timeout 900 bash scripts/package.sh
