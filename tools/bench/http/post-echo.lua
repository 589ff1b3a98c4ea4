-- wrk script: the same body as post-task.lua, to the bare echo route.
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"bench-%d","schedule":{"at":"2099-01-01T00:00:00Z"},"action":{"url":"http://127.0.0.1:9/bench"}}', counter)
  return wrk.format("POST", "/echo", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end
