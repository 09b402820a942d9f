#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server from the distribution's packages, in a temporary data
# directory on a free loopback port, for tests and for scripts/cluster.sh.
#
#   scripts/pg.sh run -- CMD ARGS…   starts PostgreSQL, runs CMD with
#                                    STORY_TEST_DATABASE_URL set (each test server makes
#                                    its own database from it), stops PostgreSQL after
#   scripts/pg.sh start DIR          starts one with its data in DIR (made, must not
#                                    exist); prints its admin URL
#   scripts/pg.sh stop DIR           stops the one in DIR and removes DIR
#
# As root (initdb refuses to run as root), the server runs as the `postgres` user the
# package made, through runuser. The data directory uses the C locale (byte order, as
# SQLite sorts) and fsync stays on.
set -euo pipefail

# PostgreSQL 15 (Debian 12's); another installed version if 15 is not there.
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=/usr/lib/postgresql/15/bin
  if [ ! -x "$PG_BIN/initdb" ]; then
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    PG_BIN=${newest:-$PG_BIN}
  fi
fi

need_packages() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    echo "PostgreSQL is not installed ($PG_BIN/initdb missing): run scripts/setup.sh" >&2
    exit 1
  fi
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=$1
  need_packages
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  local port
  port=$(free_port)
  as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale -E UTF8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  # Enough connections for three replicas (a writer and a read pool each) and for the
  # test suite's servers running in parallel.
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=64MB" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
  local dir=$1
  if [ -d "$dir/data" ]; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    dir=$(mktemp -d /tmp/story-pg.XXXXXX)
    trap 'stop "$dir"' EXIT
    url=$(start "$dir")
    echo "==> PostgreSQL at $url (data in $dir)" >&2
    STORY_TEST_DATABASE_URL=$url "$@"
    ;;
  *)
    echo "usage: $0 run -- CMD… | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
