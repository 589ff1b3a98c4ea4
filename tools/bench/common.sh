# Shared by the HTTP benchmark scripts (sourced, from the repository's root): installs wrk and
# the project's dependencies, builds the server and the bare echo receiver (release), and
# waits for servers to answer.

bench_prepare() {
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  tools/install-deps.sh
  swift build -c release --product almanac >/dev/null
  swift build -c release --product bench-http-echo >/dev/null
}

# bench_wait_ready URL... : until every URL answers (at most 10 s).
bench_wait_ready() {
  for _ in $(seq 1 100); do
    local ready=1
    for url in "$@"; do curl -s -o /dev/null "$url" || ready=0; done
    [ "$ready" = 1 ] && return 0
    sleep 0.1
  done
  echo "bench: $* did not answer within 10 s" >&2
  return 1
}

# bench_start DATA PORT ECHO_PORT [SERVE_OPTION...] : starts `almanac serve` on a fresh data
# directory under DATA (its log in DATA/server.log) and the echo receiver, sets $server and
# $echo_server to their pids, and waits for both. The namespace task limit (100,000 by
# default) would turn most creates into 409s: it is lifted.
bench_start() {
  local data="$1" port="$2" echo_port="$3"
  shift 3
  .build/release/almanac serve --data-dir "$data/journal" --port "$port" --log-level error \
    --max-tasks-per-namespace 100000000 "$@" >"$data/server.log" 2>&1 &
  server=$!
  .build/release/bench-http-echo "$echo_port" >/dev/null 2>&1 &
  echo_server=$!
  bench_wait_ready "localhost:$port/healthz" "localhost:$echo_port/"
}
