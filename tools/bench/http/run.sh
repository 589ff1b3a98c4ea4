#!/usr/bin/env bash
# The HTTP API under wrk (release build, 64 connections): POST /v1/tasks (each 201 after its
# fsync), a bare Hummingbird echo route in the same run as the baseline, and GET /v1/tasks/{id}.
#
#   tools/bench/http/run.sh [SECONDS] [CONNECTIONS]     defaults: 30 64
set -euo pipefail
cd "$(dirname "$0")/../../.."
seconds="${1:-30}"
connections="${2:-64}"
source tools/bench/common.sh
bench_prepare

data="$(mktemp -d)"
trap 'kill $server $echo_server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"' EXIT
bench_start "$data" 18480 18481

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
