#!/usr/bin/env bash
# The burst end to end on `almanac serve` (release): N one-time tasks (default 100,000), all
# due at one instant T, created through POST /v1/tasks; each calls a local keep-alive
# receiver (`bench-http-echo`). After the burst it stops the server and reads the journal
# with `almanac export`: when each RunStarted was recorded, and each outcome.
#
#   tools/bench/burst/run.sh [TASKS] [LEAD_SECONDS]        defaults: 100000 25
set -euo pipefail
cd "$(dirname "$0")/../../.."
source tools/bench/common.sh
bench_prepare
tasks="${1:-100000}"
lead="${2:-25}"

data="$(mktemp -d)"
trap 'kill $server $echo_server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"' EXIT
bench_start "$data" 18490 18491 --max-concurrent-runs $((tasks + 1024))

at_epoch=$(( $(date +%s) + lead ))
at="$(date -u -d "@$at_epoch" +%Y-%m-%dT%H:%M:%SZ)"
echo "== creating $tasks tasks due at $at"
# wrk's threads stop at their share of answers, but wrk itself waits out its duration: it is
# stopped once the server holds every task.
AT="$at" TARGET="http://127.0.0.1:18491/echo" PER_THREAD=$((tasks / 2)) \
  wrk -t2 -c64 -d$((lead))s -s tools/bench/burst/create.lua http://127.0.0.1:18490 >"$data/wrk.out" &
creator=$!
started=$(date +%s.%N)
while kill -0 $creator 2>/dev/null; do
  held="$(curl -s localhost:18490/metrics | sed -n 's/^almanac_tasks \([0-9]*\).*$/\1/p')"
  [ "${held:-0}" -ge "$tasks" ] && break
  sleep 0.2
done
echo "created ${held:-0} tasks in $(echo "$(date +%s.%N) - $started" | bc) s"
kill -INT $creator 2>/dev/null || true
wait $creator 2>/dev/null || true
grep -E 'non2xx' "$data/wrk.out" || true
now=$(date +%s)
[ "$now" -lt "$at_epoch" ] || { echo "run.sh: creation ended after T; use a longer lead" >&2; exit 1; }
echo "== waiting for T and for every outcome"
sleep $(( at_epoch - now + 5 ))
for _ in $(seq 1 60); do
  running="$(curl -s localhost:18490/metrics | sed -n 's/^almanac_runs_in_flight \([0-9.]*\)$/\1/p')"
  [ "${running%.*}" = "0" ] && break
  sleep 1
done
kill -TERM $server; wait $server 2>/dev/null || true
.build/release/almanac export --data-dir "$data/journal" --output "$data/export.jsonl"
python3 - "$data/export.jsonl" "$at_epoch" "$tasks" <<'PY'
import json, sys
path, at, expected = sys.argv[1], int(sys.argv[2]) * 1_000_000, int(sys.argv[3])
started, outcomes = [], []
for line in open(path):
    record = json.loads(line)
    kind = record.get("type")
    if kind == "RunStarted": started.append(record["recordedAtMicros"] - at)
    elif kind in ("RunSucceeded", "RunFailed"): outcomes.append((kind, record["recordedAtMicros"] - at))
started.sort()
def ms(us): return f"{us / 1000:.1f} ms"
print(f"RunStarted: {len(started)} of {expected}; first T + {ms(started[0])}, "
      f"p50 T + {ms(started[len(started) // 2])}, last T + {ms(started[-1])}; "
      f"within 1 s: {sum(1 for s in started if s <= 1_000_000)}")
buckets = {}
for s in started: buckets[s // 100_000] = buckets.get(s // 100_000, 0) + 1
print("claims per 100 ms after T: " + ", ".join(f"{k * 100}:{v}" for k, v in sorted(buckets.items())))
outcome_buckets = {}
for _, t in outcomes: outcome_buckets[t // 1_000_000] = outcome_buckets.get(t // 1_000_000, 0) + 1
print("outcomes recorded per second after T: " + ", ".join(f"{k}s:{v}" for k, v in sorted(outcome_buckets.items())))
succeeded = sum(1 for kind, _ in outcomes if kind == "RunSucceeded")
print(f"outcomes: {len(outcomes)} ({succeeded} succeeded); last recorded T + {ms(max(t for _, t in outcomes))}")
PY
