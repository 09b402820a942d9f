#!/usr/bin/env bash
# Load test of one story-server process (SQLite), as in BENCHMARKS.md "Server
# throughput, one SQLite process (issue 10)", or of a server already running at URL
# (a cluster behind its load balancer: scripts/bench/cluster-load.sh).
#
#   scripts/bench/server-load.sh                 # builds the release server, runs everything
#   BIN=/path/to/story-server scripts/bench/server-load.sh   # another build (e.g. a baseline)
#   URL=http://127.0.0.1:8787 scripts/bench/server-load.sh   # a running server (its rate
#                                                # limit off: --rate-limit-per-second 0)
#
# Starts the server on a fresh temporary database with the per-user rate limit off
# (`--rate-limit-per-second 0`: the default, 20 requests/s per user, would answer most of
# this load 429) and request logging at `warn` (the default `info` logs every request),
# signs up one account, then runs wrk (Debian: `apt-get install wrk`):
#   1. push: POST /api/sync/push with BATCH hero creates per request (fresh ids), CONNS
#      connections, DURATION seconds (after a short warm-up);
#   2. list: GET /api/heroes (a page of 50), CONNS connections;
#   3. pull: GET /api/sync/changes?limit=100 (a page of the change feed from the start,
#      as a device's first sync reads it), CONNS connections;
#   4. mixed: the push load and, at the same time, GET /api/heroes on READ_CONNS
#      connections (reads should not wait on writes).
# Settings (environment): BIN, PORT (18787), CONNS (16), THREADS (2), DURATION (15),
# BATCH (10), READ_CONNS (4), LABEL (printed in the table), IDS (v7: time-ordered ids as
# the app makes them; v4: random ids, the worst case for the indexes).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PORT="${PORT:-18787}"
CONNS="${CONNS:-16}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-15}"
BATCH="${BATCH:-10}"
READ_CONNS="${READ_CONNS:-4}"
LABEL="${LABEL:-story-server}"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
dir="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

if [[ -n "${URL:-}" ]]; then
  base="$URL"
else
  if [[ -z "${BIN:-}" ]]; then
    (cd "$root" && cargo build --release -p story-server >&2)
    BIN="${CARGO_TARGET_DIR:-$root/target}/release/story-server"
  fi
  "$BIN" --addr "127.0.0.1:$PORT" --db "$dir/db.sqlite3" --rate-limit-per-second 0 \
    --log warn >"$dir/server.log" 2>&1 &
  server_pid=$!
  base="http://127.0.0.1:$PORT"
fi
for _ in $(seq 100); do
  curl -fs "$base/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done

TOKEN="$(curl -fs -X POST "$base/api/auth/signup" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","name":"Bench","password":"bench-password-1"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
export TOKEN BATCH

# Runs wrk with load.lua in a mode; prints its RESULT line's fields as "requests duration_us p50 p90 p99 errors".
run_wrk() { # mode connections seconds [path of a get]
  MODE="$1" GET_PATH="${4:-/api/heroes}" wrk -t"$THREADS" -c"$2" -d"$3"s -s "$here/load.lua" "$base" |
    sed -n 's/^RESULT requests=\([0-9]*\) duration_us=\([0-9]*\) p50_us=\([0-9]*\) p90_us=\([0-9]*\) p99_us=\([0-9]*\) errors=\([0-9]*\)$/\1 \2 \3 \4 \5 \6/p'
}
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
rate() { awk -v n="$1" -v us="$2" -v k="${3:-1}" 'BEGIN { printf "%.0f", n * k / (us / 1e6) }'; }

run_wrk push "$CONNS" 3 >/dev/null # warm-up
read -r p_n p_us p_50 _ p_99 p_err < <(run_wrk push "$CONNS" "$DURATION")
read -r l_n l_us l_50 _ l_99 l_err < <(run_wrk get "$CONNS" "$DURATION")
read -r f_n f_us f_50 _ f_99 f_err < <(run_wrk get "$CONNS" "$DURATION" "/api/sync/changes?limit=100")
MODE=get wrk -t1 -c"$READ_CONNS" -d"$DURATION"s -s "$here/load.lua" "$base" >"$dir/mixed-get.txt" &
mixed_get=$!
read -r m_n m_us m_50 _ m_99 m_err < <(run_wrk push "$CONNS" "$DURATION")
wait "$mixed_get"
read -r g_n g_us g_50 _ g_99 g_err < <(sed -n 's/^RESULT requests=\([0-9]*\) duration_us=\([0-9]*\) p50_us=\([0-9]*\) p90_us=\([0-9]*\) p99_us=\([0-9]*\) errors=\([0-9]*\)$/\1 \2 \3 \4 \5 \6/p' "$dir/mixed-get.txt")

# Every acknowledged create is in the change feed (wrk does not count requests still in
# flight when it stops, so the feed may hold a few more).
feed_rows="$(curl -fs "$base/api/sync/changes?limit=1" -H "Authorization: Bearer $TOKEN" |
  python3 -c 'import json,sys; p=json.load(sys.stdin); print(p["remaining"] + len(p["changes"]["heroes"]))')"

echo
echo "$LABEL: $CONNS connections, $THREADS wrk threads, ${DURATION}s per run, $BATCH hero creates per push, ${IDS:-v7} ids"
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' run requests/s mutations/s p50_ms p99_ms errors
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' --- --- --- --- --- ---
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' "push" "$(rate "$p_n" "$p_us")" "$(rate "$p_n" "$p_us" "$BATCH")" "$(ms "$p_50")" "$(ms "$p_99")" "$p_err"
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' "GET /api/heroes" "$(rate "$l_n" "$l_us")" "" "$(ms "$l_50")" "$(ms "$l_99")" "$l_err"
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' "pull (changes, 100 rows)" "$(rate "$f_n" "$f_us")" "" "$(ms "$f_50")" "$(ms "$f_99")" "$f_err"
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' "mixed: push" "$(rate "$m_n" "$m_us")" "$(rate "$m_n" "$m_us" "$BATCH")" "$(ms "$m_50")" "$(ms "$m_99")" "$m_err"
printf '| %-28s | %10s | %12s | %8s | %8s | %6s |\n' "mixed: GET ($READ_CONNS conns)" "$(rate "$g_n" "$g_us")" "" "$(ms "$g_50")" "$(ms "$g_99")" "$g_err"
acked=$(( (p_n + m_n) * BATCH ))
echo "heroes in the change feed: $feed_rows (acknowledged in the measured runs: $acked, plus the warm-up)"
if (( feed_rows < acked )); then echo "MISSING ROWS" >&2; exit 1; fi
