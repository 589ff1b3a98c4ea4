#!/usr/bin/env bash
# A snapshot of a multi-GiB journal while the server keeps writing: how long it takes, and
# the scheduler's claim lateness during it compared with an equal stretch without it.
#
#   tools/bench/snapshot/run.sh [TASKS] [PADDING] [TICKERS]
#     TASKS    far-future tasks written first (default 200000)
#     PADDING  description bytes per task (default 10240: about 2 GiB in all)
#     TICKERS  tasks firing every second while the snapshot runs (default 200)
set -euo pipefail
cd "$(dirname "$0")/../../.."
tasks="${1:-200000}"; padding="${2:-10240}"; tickers="${3:-200}"
tools/install-deps.sh
swift build -c release --product almanac >/dev/null
swift build -c release --product bench-fill >/dev/null
work="$(mktemp -d /tmp/almanac-bench-snapshot-XXXX)"
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

start=$(date +%s.%N)
.build/release/bench-fill "$work/data" "$tasks" "$padding"
echo "fill: $(echo "$(date +%s.%N) - $start" | bc) s; data file $(du -h "$work/data/data.mdb" | cut -f1)"

start=$(date +%s.%N)
.build/release/almanac serve --data-dir "$work/data" --port 18495 --log-level error --map-size 64GiB >"$work/server.log" 2>&1 &
server=$!
until curl -sf localhost:18495/readyz >/dev/null; do sleep 0.2; done
echo "server ready after $(echo "$(date +%s.%N) - $start" | bc) s (replay of $tasks tasks), RSS $(ps -o rss= -p $server | awk '{printf "%.0f MiB", $1/1024}')"

for i in $(seq 1 "$tickers"); do
  curl -s -o /dev/null -X POST localhost:18495/v1/tasks -H 'Content-Type: application/json' \
    -d "{\"name\":\"tick-$i\",\"schedule\":{\"every\":\"1s\"},\"action\":{\"url\":\"http://127.0.0.1:9/tick\",\"timeout\":\"2s\"}}"
done
sleep 10  # warm up

histogram() { curl -s localhost:18495/metrics | grep '^almanac_run_lateness_seconds_bucket'; }
h1="$(histogram)"
start=$(date +%s.%N)
.build/release/almanac snapshot --data-dir "$work/data" "$work/snap"
took=$(echo "$(date +%s.%N) - $start" | bc)
h2="$(histogram)"
sleep "$took"
h3="$(histogram)"
echo "snapshot: $took s, $(du -h "$work/snap/data.mdb" | cut -f1) (compacted)"

python3 - "$h1" "$h2" "$h3" <<'PY'
import re, sys
def parse(text):
    buckets = {}
    for line in text.splitlines():
        m = re.match(r'almanac_run_lateness_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m: buckets[float('inf') if m.group(1) == '+Inf' else float(m.group(1))] = float(m.group(2))
    return buckets
def quantile(delta, q):
    total = delta[float('inf')]
    if total == 0: return None, 0
    for le in sorted(delta):
        if delta[le] >= q * total: return le, total
    return float('inf'), total
h1, h2, h3 = (parse(t) for t in sys.argv[1:4])
for label, a, b in (("during the snapshot", h1, h2), ("after it, same length", h2, h3)):
    delta = {le: b[le] - a.get(le, 0) for le in b}
    p50, n = quantile(delta, 0.5)
    p99, _ = quantile(delta, 0.99)
    print(f"claim lateness {label}: {int(n)} claims, p50 <= {p50*1000:g} ms, p99 <= {p99*1000:g} ms (histogram bucket bounds)")
PY
