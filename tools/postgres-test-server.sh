#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests (Debian's packages, installed when
# missing): a fresh data directory, trust authentication, listening on 127.0.0.1 only.
#
#   tools/postgres-test-server.sh start DIR [PORT]   # prints the URL on standard output
#   tools/postgres-test-server.sh stop DIR
#   tools/postgres-test-server.sh halt DIR           # stops the server, keeping its data
#   tools/postgres-test-server.sh resume DIR [PORT]  # starts a halted server again
#   tools/postgres-test-server.sh run COMMAND…       # a server for COMMAND's lifetime, its URL
#                                                    # in ALMANAC_TEST_POSTGRES_URL
#
# The server runs as the `postgres` user when started as root (PostgreSQL refuses root).
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
if [ "$1" = run ]; then
  shift
  dir="$(mktemp -d /tmp/almanac-pg-XXXXXX)"
  chmod 755 "$dir"  # the server runs as postgres, which must reach its directory
  url="$("$0" start "$dir/server")"
  trap '"$0" stop "$dir/server"; rm -rf "$dir"' EXIT
  status=0
  ALMANAC_TEST_POSTGRES_URL="$url" "$@" || status=$?
  exit $status
fi
command="$1"; dir="$2"; port="${3:-55432}"

bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" -eq 0 ]; then run=(); else run=(sudo); fi
  echo "postgres-test-server: installing postgresql" >&2
  "${run[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq postgresql >/dev/null
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi

as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u postgres --); fi

serve() {
  # The server outlives this script: it must not inherit descriptors other than 0-2, such as
  # the write end of a pipe whose reader (a test harness) would then wait for its end forever.
  for fd in /proc/$$/fd/*; do
    fd="${fd##*/}"
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on" start >/dev/null \
    || { echo "postgres-test-server: the server did not start:" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
}

case "$command" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U almanac --no-sync >"$dir/initdb.log" 2>&1 \
      || { echo "postgres-test-server: initdb failed:" >&2; tail -5 "$dir/initdb.log" >&2; exit 1; }
    serve
    "${as_owner[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U almanac almanac_test
    echo "postgres://almanac@127.0.0.1:$port/almanac_test"
    ;;
  stop)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  halt)
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    serve
    ;;
  *) usage ;;
esac
