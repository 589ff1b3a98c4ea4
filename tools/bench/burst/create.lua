-- wrk script: POST /v1/tasks, one-time tasks all due at the instant in $AT, until each
-- thread has had $PER_THREAD answers (then it stops).
wrk.method = "POST"
wrk.path = "/v1/tasks"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"burst","schedule":{"at":"' .. os.getenv("AT") .. '"},"action":{"url":"' .. os.getenv("TARGET") .. '","method":"POST","timeout":"30s"}}'
local limit = tonumber(os.getenv("PER_THREAD"))
local answered = 0
response = function(status, headers, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  io.write(string.format("requests=%d non2xx=%d\n", summary.requests, summary.errors.status))
end
