#!/usr/bin/env bash
# Cluster claims per second and lateness with 1, 2 and 3 nodes on one PostgreSQL journal
# (release builds; a throwaway PostgreSQL server; a bare Hummingbird receiver). Each round
# creates TASKS tasks firing every second — all due at each whole second — and measures the
# runs scheduled in SECONDS after a 5 s warm-up.
#
#   tools/bench/cluster/run.sh [TASKS] [SECONDS] [NODE COUNTS...]     defaults: 1000 30 1 2 3
set -euo pipefail
cd "$(dirname "$0")/../../.."
tasks="${1:-1000}"
seconds="${2:-30}"
shift $(( $# < 2 ? $# : 2 ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 3)
tools/install-deps.sh
swift build -c release --product almanac >/dev/null
swift build -c release --product bench-http-echo >/dev/null

work="$(mktemp -d /tmp/almanac-bench-cluster-XXXXXX)"
chmod 755 "$work"
url="$(tools/postgres-test-server.sh start "$work/pg" 55499)"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  tools/postgres-test-server.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
.build/release/bench-http-echo 18581 >/dev/null 2>&1 &
pids+=($!)

for count in "${counts[@]}"; do
  table="bench_${count}_nodes_$$"
  nodes=()
  node_pids=()
  for index in $(seq 0 $((count - 1))); do
    port=$((18590 + index))
    .build/release/almanac serve --journal "$url" --journal-table "$table" --node-name "bench$index" \
      --data-dir "$work/node$index" --port "$port" --log-level warning --max-concurrent-runs 2000 \
      --run-retention 200 --max-tasks-per-namespace 10000000 \
      --webhook-secret-file "$work/webhook.secret" --secrets-key-file "$work/secrets.key" \
      >"$work/node$index.log" 2>&1 &
    node_pids+=($!)
    nodes+=("http://127.0.0.1:$port")
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  done
  sleep 2  # let the shards spread
  echo "== $count node(s), $tasks tasks every second, ${seconds}s"
  python3 tools/bench/cluster/measure.py "$tasks" "$seconds" 5 http://127.0.0.1:18581/echo "${nodes[@]}"
  kill -TERM "${node_pids[@]}"
  wait "${node_pids[@]}" 2>/dev/null || true
done
