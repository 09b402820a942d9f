#!/usr/bin/env bash
# BENCHMARKS.md "The server on PostgreSQL, 1 and 3 replicas behind HAProxy (issue 10)":
# one run, three set-ups, the same load (scripts/bench/server-load.sh: push, list, pull,
# mixed) against each, back to back:
#   1. one story-server process on SQLite (the embedded default), no balancer;
#   2. PostgreSQL (a throwaway server from scripts/pg.sh), 1 replica behind HAProxy;
#   3. PostgreSQL, 3 replicas behind HAProxy.
# Settings: as server-load.sh (CONNS, DURATION, BATCH, …). Needs wrk, haproxy, postgresql
# (scripts/setup.sh installs the last two; `apt-get install wrk`).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release -q -p story-server
export BIN="${CARGO_TARGET_DIR:-$root/target}/release/story-server"
export SERVER_ARGS="--rate-limit-per-second 0 --log warn"
echo "machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

LABEL="SQLite, one process" bash scripts/bench/server-load.sh
for n in 1 3; do
  bash scripts/cluster.sh --release --replicas "$n" --port "${LB_PORT:-18790}" -- \
    env LABEL="PostgreSQL, $n replica(s) behind HAProxy" bash scripts/bench/server-load.sh
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
