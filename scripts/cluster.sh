#!/usr/bin/env bash
# The server as a small cluster on this machine: a throwaway PostgreSQL (scripts/pg.sh),
# three story-server replicas on it sharing one media directory, and HAProxy in front
# (installed from the distribution's packages if missing). Prints the URL to point the
# app at; Ctrl-C stops everything and removes the temporary data.
#
#   scripts/cluster.sh [--release] [--replicas N] [--port PORT] [--demo] [-- CMD ARGS…]
#
# With `-- CMD`, runs CMD with URL set to the load balancer's address once everything is
# up, then stops everything (scripts/bench/cluster-load.sh does this). SERVER_ARGS adds
# options to every replica (e.g. "--rate-limit-per-second 0 --log warn").
# Everything but the load balancer's port is on 127.0.0.1 and on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=debug
REPLICAS=3
PORT=8787
DEMO=()
CMD=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; CMD=("$@"); break ;;
    --release) PROFILE=release ;;
    --replicas) REPLICAS=$2; shift ;;
    --port) PORT=$2; shift ;;
    --demo) DEMO=(--demo) ;;
    *) echo "usage: $0 [--release] [--replicas N] [--port PORT] [--demo] [-- CMD ARGS…]" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v haproxy >/dev/null 2>&1; then
  log "installing HAProxy"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy >/dev/null
fi
# The service the package starts is not ours.
$SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true

export PATH="$HOME/.cargo/bin:$PATH"
log "building story-server ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build -q -p story-server --release
else
  cargo build -q -p story-server
fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/story-server

WORK=$(mktemp -d /tmp/story-cluster.XXXXXX)
# PostgreSQL runs as its own user (when this runs as root): it must reach its directory.
chmod 755 "$WORK"
PIDS=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/pg.sh stop "$WORK/pg"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

log "starting PostgreSQL"
ADMIN_URL=$(bash scripts/pg.sh start "$WORK/pg")
DB_URL=${ADMIN_URL%/postgres}/stories
psql -q "$ADMIN_URL" -c "CREATE DATABASE stories"
mkdir -p "$WORK/media"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

BACKENDS=""
for i in $(seq 1 "$REPLICAS"); do
  port=$(free_port)
  log "replica $i on 127.0.0.1:$port"
  STORY_SERVER_DATABASE_URL=$DB_URL "$BIN" --addr "127.0.0.1:$port" \
    --media-dir "$WORK/media" "${DEMO[@]}" ${SERVER_ARGS:-} >"$WORK/replica-$i.log" 2>&1 &
  PIDS+=($!)
  BACKENDS+="    server replica$i 127.0.0.1:$port check inter 1s fall 2 rise 1"$'\n'
  # The first replica migrates; the others find the schema ready (an advisory lock
  # would serialise them anyway).
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null || {
    cat "$WORK/replica-$i.log" >&2
    exit 1
  }
done

cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option httpchk GET /api/health
    retries 2
    option redispatch
frontend stories
    bind 0.0.0.0:$PORT
    default_backend replicas
backend replicas
    balance roundrobin
$BACKENDS
EOF
haproxy -c -q -f "$WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
sleep 0.5
curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null

log "PostgreSQL: $DB_URL"
log "logs: $WORK/replica-*.log, $WORK/haproxy.log"
if [ ${#CMD[@]} -gt 0 ]; then
  URL="http://127.0.0.1:$PORT" "${CMD[@]}"
  exit
fi
echo
echo "Point the app at: http://127.0.0.1:$PORT   (Ctrl-C stops everything)"
wait
