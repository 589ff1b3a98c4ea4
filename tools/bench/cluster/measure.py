#!/usr/bin/env python3
"""Creates TASKS tasks firing every second, spread over the nodes, waits SECONDS, then reads
every run from the shared projection (GET /v1/runs) and prints, for the runs scheduled in
the measured window (after a warm-up): claims per second; lateness (the claim's decision
instant minus the due instant: every claim of one group commit shares it); and duration
(from that instant to the outcome: the claim's commit, the call, and the outcome's record).

    measure.py TASKS SECONDS WARMUP RECEIVER_URL NODE_URL...
"""
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

tasks, seconds, warmup, receiver, nodes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]

def post(index):
    body = json.dumps({"name": f"b{index}", "schedule": {"every": "1s"},
                       "action": {"url": receiver, "method": "POST"}}).encode()
    request = urllib.request.Request(nodes[index % len(nodes)] + "/v1/tasks", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201, response.status

with ThreadPoolExecutor(16) as pool:
    list(pool.map(post, range(tasks)))
created = time.time()
window_start = created + warmup
time.sleep(warmup + seconds + 2)
window_end = window_start + seconds

def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

lateness, durations, cursor = [], [], None
while True:
    url = nodes[0] + "/v1/runs?limit=1000" + (f"&cursor={cursor}" if cursor else "")
    with urllib.request.urlopen(url, timeout=30) as response:
        page = json.load(response)
    for run in page["items"]:
        if run["attempt"] == 1 and window_start <= instant(run["scheduledAt"]) < window_end:
            lateness.append(run["latenessMs"])
            if run.get("durationMs") is not None:
                durations.append(run["durationMs"])
    cursor = page.get("nextCursor")
    if not cursor or (page["items"] and instant(page["items"][-1]["scheduledAt"]) < window_start):
        break
lateness.sort()
durations.sort()
def pct(p, values=lateness):
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")
print(json.dumps({"nodes": len(nodes), "tasks": tasks, "windowSeconds": seconds, "claims": len(lateness),
                  "claimsPerSecond": round(len(lateness) / seconds, 1), "expectedPerSecond": tasks,
                  "latenessMs": {"p50": round(pct(0.5), 2), "p99": round(pct(0.99), 2), "max": round(lateness[-1], 2) if lateness else None},
                  "durationMs": {"p50": round(pct(0.5, durations), 2), "p99": round(pct(0.99, durations), 2)}}))
