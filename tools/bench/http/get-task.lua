-- wrk script: GET /v1/tasks/{id} for the task id in the TASK environment variable (the
-- request is built once: no Lua per request).
wrk.path = "/v1/tasks/" .. os.getenv("TASK")
dofile("tools/bench/http/report.lua")
