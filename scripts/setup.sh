#!/usr/bin/env bash
# Installs what building and testing Infinite Stories needs on Debian/Ubuntu: the
# WebKitGTK/Tauri system libraries, Xvfb and the WebKit WebDriver, Node dependencies of
# the UI, and tauri-driver. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  libdbus-1-dev xvfb x11-utils webkit2gtk-driver imagemagick curl ca-certificates
  # Stories and events show emoji (🌙 🎂); without a colour emoji font they are empty boxes.
  # The .deb depends on it too (tauri.conf.json).
  fonts-noto-color-emoji
  # The server's tests on PostgreSQL (scripts/pg.sh starts a throwaway server), and the
  # load balancer in front of its replicas (the cluster test, scripts/cluster.sh).
  postgresql haproxy
  # Narration in the web view (WAV through GStreamer), and a stand-in sound card for the
  # end-to-end tests (fakeaudiosink).
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  # The metered-connection test: NetworkManager's D-Bus API served by python-dbusmock on a
  # private bus, called with gdbus.
  dbus-daemon python3-dbusmock libglib2.0-bin
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    log "installing the Rust toolchain (rustup)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || echo 0)
if [ "${node_major:-0}" -lt 20 ]; then
  log "installing Node.js (the UI build needs Node 20 or newer)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  node_major=$(node --version | sed -E 's/^v([0-9]+).*/\1/')
  if [ "$node_major" -lt 20 ]; then
    echo "Node $(node --version) is too old for Vite 7; install Node 20+ (e.g. from NodeSource) and run again." >&2
    exit 1
  fi
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  log "installing UI dependencies (npm ci)"
  npm --prefix ui ci --no-audit --no-fund --loglevel=error
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  log "installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
