-- wrk script: POST /v1/tasks with a one-time task far in the future (nothing fires during the
-- run). The request is built once (no Lua per request); each POST creates a new task, with its
-- own id, because no Idempotency-Key is sent.
wrk.method = "POST"
wrk.path = "/v1/tasks"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench","schedule":{"at":"2099-01-01T00:00:00Z"},"action":{"url":"http://127.0.0.1:9/bench"}}'
dofile("tools/bench/http/report.lua")
