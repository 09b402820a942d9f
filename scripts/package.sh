#!/usr/bin/env bash
# Builds the Debian package, installs it, starts the installed app under Xvfb and checks
# that its window comes up, then removes the package again.
#
#   bash scripts/package.sh            # a debug build: packages what scripts/test.sh compiled
#   bash scripts/package.sh --release  # the package to ship (an optimised build; slow)
#
# The package is left in target/{debug,release}/bundle/deb/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

profile=debug
if [ "${1:-}" = "--release" ]; then
  profile=release
fi

log "building the .deb ($profile)"
rm -rf "target/$profile/bundle/deb"
if [ "$profile" = debug ]; then
  # The binary as scripts/test.sh builds it (`cargo build-all`: one feature set for every
  # step, so nothing compiles twice; a no-op after the tests), then only the packaging.
  if [ ! -f ui/dist/index.html ] ||
    [ -n "$(find ui/src ui/index.html ui/package.json -newer ui/dist/index.html -print -quit)" ]; then
    npm --prefix ui run build --silent
  fi
  cargo build-all
  ui/node_modules/.bin/tauri bundle --debug --features custom-protocol --bundles deb
else
  # `-p infinite-stories`: the app is the workspace's root package, outside the default
  # members.
  ui/node_modules/.bin/tauri build --features custom-protocol --bundles deb -- -p infinite-stories
fi
deb=$(ls target/"$profile"/bundle/deb/*.deb)
log "built $deb ($(du -h "$deb" | cut -f1))"

log "installing it"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "./$deb" >/dev/null
trap 'DEBIAN_FRONTEND=noninteractive $SUDO apt-get remove -y -qq infinite-stories >/dev/null || true' EXIT
test -x /usr/bin/infinite-stories
test -f "/usr/share/applications/Infinite Stories.desktop"

log "starting the installed app"
data=$(mktemp -d)
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
DISPLAY=$display /usr/bin/infinite-stories --data-dir "$data" --server http://127.0.0.1:9 \
  >"$data/app.log" 2>&1 &
app=$!
up=""
for _ in $(seq 1 60); do
  if ! kill -0 "$app" 2>/dev/null; then break; fi
  if DISPLAY=$display xwininfo -root -tree 2>/dev/null | grep -q '"Infinite Stories"'; then
    up=yes
    break
  fi
  sleep 0.5
done
kill "$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true
kill "$xvfb" 2>/dev/null || true
if [ -z "$up" ]; then
  echo "the installed app did not open its window; its log:" >&2
  cat "$data/app.log" >&2
  exit 1
fi
log "the installed app opened its window"
rm -rf "$data"
