-- wrk script: the same request as post-task.lua, to the bare echo route.
wrk.method = "POST"
wrk.path = "/echo"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"bench","schedule":{"at":"2099-01-01T00:00:00Z"},"action":{"url":"http://127.0.0.1:9/bench"}}'
dofile("tools/bench/http/report.lua")
