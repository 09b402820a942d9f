#!/usr/bin/env bash
# Sets everything up, starts a local story-server with a demo account and demo heroes,
# and launches the desktop app against it. Close the window to stop both.
#
#   Demo account: demo@infinitestories.app / bedtime-stories
#
# Environment: DEMO_DIR (default .demo/) holds the server database and the app's data;
# DEMO_PORT (default 8787).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

DEMO_DIR=${DEMO_DIR:-"$PWD/.demo"}
DEMO_PORT=${DEMO_PORT:-8787}
mkdir -p "$DEMO_DIR"
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"

echo "==> building the UI, the server and the app"
npm --prefix ui run build --silent
# One invocation, so the dependencies both share compile once.
cargo build -p story-server -p infinite-stories --features infinite-stories/custom-protocol

echo "==> starting story-server on 127.0.0.1:$DEMO_PORT (log: $DEMO_DIR/server.log)"
"$BIN/story-server" --addr "127.0.0.1:$DEMO_PORT" --db "$DEMO_DIR/server.sqlite3" --demo \
  >"$DEMO_DIR/server.log" 2>&1 &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null || true; [ -n "${xvfb_pid:-}" ] && kill $xvfb_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$DEMO_PORT/api/health" >/dev/null 2>&1 && break
  kill -0 $server_pid 2>/dev/null || { cat "$DEMO_DIR/server.log"; exit 1; }
  sleep 0.1
done

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "==> no display: starting Xvfb on :99 (take a screenshot with: DISPLAY=:99 import -window root shot.png)"
  Xvfb :99 -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  export DISPLAY=:99
  sleep 1
fi

echo "==> launching Infinite Stories; sign in as demo@infinitestories.app / bedtime-stories"
INFINITE_STORIES_DATA_DIR="$DEMO_DIR/device" INFINITE_STORIES_SERVER="http://127.0.0.1:$DEMO_PORT" \
  "$BIN/infinite-stories"
