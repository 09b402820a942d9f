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

echo "==> Rust: unit and integration tests"
cargo test --workspace --exclude e2e --exclude infinite-stories

echo "==> on PostgreSQL (a throwaway server from scripts/pg.sh): the server's API tests, the core + server integration tests,"
echo "    the simulation with three replicas (one killed and restarted), three real replicas behind HAProxy"
cargo build -p story-server
bash scripts/pg.sh run -- bash -c '
  set -e
  cargo test -p story-server --test api
  cargo test -p integration-tests --test sync --test media
  SIM_REPLICAS=3 SIM_SEEDS=${SIM_PG_SEEDS:-100} cargo test -p integration-tests --test sim simulation
  cargo test -p integration-tests --test cluster -- --ignored'

echo "==> generated TypeScript bindings match the Rust types"
cargo test -p is-core --features ts --test ts_bindings

echo "==> UI: type check and unit tests"
npm --prefix ui run check
npm --prefix ui run test

echo "==> end to end: the real app under Xvfb"
npm --prefix ui run build --silent
cargo build -p story-server
cargo build -p infinite-stories --features custom-protocol
# Same features as the build above, so the Tauri stack compiles once.
cargo test -p infinite-stories --features custom-protocol --lib
unset DISPLAY
timeout 600 cargo test -p e2e --test app -- --test-threads=1
# The screens of issue 9: offline create, two devices resolving a conflict three ways in
# the dialog, pull-to-refresh, narration played offline, hostile text, server-wins.
timeout 1200 cargo test -p e2e --test screens -- --test-threads=1

echo "==> packaging: the .deb builds, installs, and the installed app opens its window"
timeout 900 bash scripts/package.sh
