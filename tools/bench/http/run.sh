#!/usr/bin/env bash
# The HTTP API under wrk (release build, 64 connections): POST /v1/tasks (each 201 after its
# fsync), a bare Hummingbird echo route in the same run as the baseline, and GET /v1/tasks/{id}.
#
#   tools/bench/http/run.sh [SECONDS] [CONNECTIONS]     defaults: 30 64
set -euo pipefail
cd "$(dirname "$0")/../../.."
seconds="${1:-30}"
connections="${2:-64}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
tools/install-deps.sh
swift build -c release --product almanac >/dev/null
swift build -c release --product bench-http-echo >/dev/null

data="$(mktemp -d)"
# The namespace task limit (100,000 by default) would turn most creates into 409s: lifted.
.build/release/almanac serve --data-dir "$data/journal" --port 18480 --log-level error \
  --max-tasks-per-namespace 100000000 >"$data/server.log" 2>&1 &
server=$!
.build/release/bench-http-echo 18481 >/dev/null 2>&1 &
echo_server=$!
trap 'kill $server $echo_server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -sf localhost:18480/healthz >/dev/null && curl -s -o /dev/null localhost:18481/ && break
  sleep 0.1
done

here=tools/bench/http
echo "== bare echo: POST /echo, $connections connections, ${seconds}s"
wrk -t2 -c"$connections" -d"${seconds}s" -s "$here/post-echo.lua" http://127.0.0.1:18481
echo "== POST /v1/tasks, $connections connections, ${seconds}s"
wrk -t2 -c"$connections" -d"${seconds}s" -s "$here/post-task.lua" http://127.0.0.1:18480
task="$(curl -s -X POST localhost:18480/v1/tasks -H 'Content-Type: application/json' \
  -d '{"name":"read-me","schedule":{"every":"1h"},"action":{"url":"http://127.0.0.1:9/x"}}' \
  | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')"
[ -n "$task" ] || { echo "run.sh: could not create the task to read" >&2; exit 1; }
echo "== GET /v1/tasks/$task, $connections connections, ${seconds}s"
TASK="$task" wrk -t2 -c"$connections" -d"${seconds}s" -s "$here/get-task.lua" http://127.0.0.1:18480
echo "== server"
curl -s localhost:18480/metrics | grep -E '^almanac_(journal_group_commit_batch_events_(sum|count)|tasks) '
ps -o rss= -p $server | awk '{printf "server RSS: %.0f MiB\n", $1/1024}'
