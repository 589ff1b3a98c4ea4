-- wrk script: GET /v1/tasks/{id} for the task id in the TASK environment variable.
local task = os.getenv("TASK")
request = function()
  return wrk.format("GET", "/v1/tasks/" .. task)
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end
