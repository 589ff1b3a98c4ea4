-- wrk script: POST /v1/tasks with a one-time task far in the future (nothing fires during the
-- run), a distinct name per request.
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"bench-%d","schedule":{"at":"2099-01-01T00:00:00Z"},"action":{"url":"http://127.0.0.1:9/bench"}}', counter)
  return wrk.format("POST", "/v1/tasks", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  local statuses = summary.errors.status
  io.write(string.format("non2xx=%d socket_errors=%d\n", statuses,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
