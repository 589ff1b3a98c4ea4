import AlmanacTesting
import Engine
import Foundation
import HTTPTypes
import Journal
import Scheduling
import Server
import Testing

/// Runs, events, previews, health, readiness, metrics, the OpenAPI document, CORS and the
/// router's own errors.
@Suite("API: queries and operations")
struct QueryRouteTests {
    /// Runs two occurrences of a task through the command service, as the scheduler would:
    /// the first succeeds, the second fails.
    private func runTwice(_ api: APIHarness, task: String) async throws {
        let id = TaskID(task)
        for (second, status) in [(10, 200), (20, 500)] {
            let occurrence = OccurrenceID.scheduled(id, at: APIHarness.start + .seconds(Int64(second)))
            api.clock.advance(to: APIHarness.start + .seconds(Int64(second)) + .milliseconds(3))
            try await api.commands.execute(TaskCommand(taskID: id, actor: "scheduler", action: .startRun(occurrence)))
            api.clock.advance(by: .milliseconds(40))
            let outcome = RunOutcome(statusCode: status, duration: .milliseconds(40), responseExcerpt: "status \(status)",
                                     error: status == 200 ? nil : "HTTP \(status)")
            let run = RunID(occurrence, attempt: 1)
            try await api.commands.execute(TaskCommand(
                taskID: id, actor: "scheduler", action: status == 200 ? .completeRun(run, outcome) : .failRun(run, outcome)
            ))
        }
    }

    @Test func runsAreListedNewestFirstWithFiltersAndCursors() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let id = try await api.create(Bodies.every())
            let other = try await api.create(Bodies.every(name: "other"))
            try await runTwice(api, task: id)

            let runs = try await api.send(.get, "/v1/tasks/\(id)/runs")
            #expect(runs.status == 200)
            #expect(runs.items.map { $0["outcome"] as? String } == ["failed", "succeeded"])
            let succeeded = runs.items[1]
            #expect(succeeded["id"] as? String == "\(id)@\(Instant(rfc3339: "2026-03-01T00:00:10Z")!.microsecondsSinceEpoch)#1")
            #expect(succeeded["taskId"] as? String == id)
            #expect(succeeded["scheduledAt"] as? String == "2026-03-01T00:00:10Z")
            #expect(succeeded["startedAt"] as? String == "2026-03-01T00:00:10.003Z")
            #expect(succeeded["finishedAt"] as? String == "2026-03-01T00:00:10.043Z")
            #expect(succeeded["latenessMs"] as? Double == 3)
            #expect(succeeded["durationMs"] as? Double == 40)
            #expect(succeeded["statusCode"] as? Int == 200)
            #expect(succeeded["responseExcerpt"] as? String == "status 200")
            #expect(succeeded["attempt"] as? Int == 1)
            #expect(runs.items[0]["error"] as? String == "HTTP 500")

            let failed = try await api.send(.get, "/v1/runs?outcome=failed").items
            #expect(failed.count == 1 && failed[0]["taskId"] as? String == id)
            #expect(try await api.send(.get, "/v1/runs?taskId=\(other)").items.isEmpty)
            #expect(try await api.send(.get, "/v1/runs?since=2026-03-01T00:00:15Z").items.count == 1)
            #expect(try await api.send(.get, "/v1/runs?until=2026-03-01T00:00:15Z").items.count == 1)
            #expect(try await api.send(.get, "/v1/runs?outcome=great").status == 422)
            #expect(try await api.send(.get, "/v1/tasks/missing/runs").status == 404)

            let first = try await api.send(.get, "/v1/runs?limit=1")
            let cursor = try #require(first.object["nextCursor"] as? String)
            let second = try await api.send(.get, "/v1/runs?limit=1&cursor=\(cursor)")
            #expect(first.items[0]["outcome"] as? String == "failed")
            #expect(second.items[0]["outcome"] as? String == "succeeded")
            #expect(second.object["nextCursor"] is NSNull)

            let task = try await api.send(.get, "/v1/tasks/\(id)").object
            #expect(task["counts"] as? [String: Int] == ["runs": 2, "succeeded": 1, "failed": 1, "skipped": 0])
            let last = try #require(task["lastRun"] as? [String: Any])
            #expect(last["outcome"] as? String == "failed")
            #expect(last["statusCode"] as? Int == 500)
        }
    }

    @Test func theEventFeedPagesThroughTheJournal() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let id = try await api.create(Bodies.every())
            try await runTwice(api, task: id)
            let all = try await api.send(.get, "/v1/events?limit=1000").items
            #expect(all.map { $0["position"] as? Int } == Array(1...5))
            #expect(all.map { $0["type"] as? String } == ["TaskCreated", "RunStarted", "RunSucceeded", "RunStarted", "RunFailed"])
            let started = try #require(all[1]["data"] as? [String: Any])
            #expect(started["attempt"] as? Int == 1)
            #expect(started["scheduledAt"] as? String == "2026-03-01T00:00:10Z")
            #expect(all[1]["actor"] as? String == "scheduler")
            let page = try await api.send(.get, "/v1/events?after=2&limit=2").object
            #expect((page["items"] as? [[String: Any]])?.map { $0["position"] as? Int } == [3, 4])
            #expect(page["nextAfter"] as? Int == 4)
            #expect(try await api.send(.get, "/v1/events?after=-1").status == 422)
            #expect(try await api.send(.get, "/v1/events?after=9223372036854775808").status == 422)
            #expect(try await api.send(.get, "/v1/events?after=9223372036854775807").items.isEmpty)
            #expect(try await api.send(.get, "/v1/tasks/\(id)/events?after=3").items.map { $0["version"] as? Int } == [4, 5])
        }
    }

    @Test func previewFlagsOccurrencesThatDSTMovedOrMerged() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let spring = try await api.send(.post, "/v1/schedules/preview", json: #"""
                {"schedule":{"cron":"0 30 2 * * *","timeZone":"America/New_York"},"after":"2026-03-07T00:00:00Z","count":3}
                """#)
            #expect(spring.status == 200)
            let occurrences = try #require(spring.object["occurrences"] as? [[String: String]])
            #expect(occurrences.map { $0["at"] } == ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
            #expect(occurrences.map { $0["local"] } == ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"])
            #expect(occurrences.map { $0["dst"] } == [nil, "shifted", nil])

            let fall = try await api.send(.post, "/v1/schedules/preview", json: #"""
                {"schedule":{"cron":"0 30 1 * * *","timeZone":"America/New_York"},"after":"2026-11-01T00:00:00Z","count":1}
                """#)
            #expect((fall.object["occurrences"] as? [[String: String]])?.first?["dst"] == "merged")
            let hourly = try await api.send(.post, "/v1/schedules/preview", json: #"""
                {"schedule":{"cron":"0 30 * * * *","timeZone":"America/New_York"},"after":"2026-11-01T05:00:00Z","count":2}
                """#)
            #expect((hourly.object["occurrences"] as? [[String: String]])?.map { $0["dst"] } == ["repeated", "repeated"])

            let interval = try await api.send(.post, "/v1/schedules/preview", json: #"{"schedule":{"every":"1h"}}"#)
            #expect((interval.object["occurrences"] as? [Any])?.count == 10)
            #expect(interval.object["timeZone"] as? String == "UTC")

            let invalid = try await api.send(.post, "/v1/schedules/preview", json: #"{"schedule":{"cron":"0 0 31 4 *"}}"#)
            #expect(invalid.status == 422)
            #expect(invalid.invalidFields == ["schedule.cron"])
            #expect(try await api.send(.post, "/v1/schedules/preview", json: #"{"schedule":{"every":"1h"},"count":0}"#).status == 422)
            #expect(try await api.head == 0)
        }
    }

    @Test func healthReadinessAndMetrics() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            #expect(try await api.send(.get, "/healthz").status == 200)
            let notReady = try await api.send(.get, "/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.object["schedulerRunning"] as? Bool == false)
            api.status.schedulerRunning = true
            _ = try await api.create(Bodies.every())
            var ready = try await api.send(.get, "/readyz")
            #expect(ready.status == 200)
            #expect(ready.object["headPosition"] as? Int == 1)
            #expect(ready.object["projectionPosition"] as? Int == 1)
            // The digest shown may be the one computed before the create, until the one the
            // call started in the background lands.
            #expect((ready.object["digestPosition"] as? Int).map { $0 <= 1 } == true)
            for _ in 0..<500 where ready.object["digestPosition"] as? Int != 1 {
                try await SystemClock().sleep(until: SystemClock().now() + .milliseconds(10))
                ready = try await api.send(.get, "/readyz")
            }
            #expect(ready.object["digestPosition"] as? Int == 1)
            let digest = await api.store.digest()
            #expect(ready.object["digest"] as? String == digest.digest)

            _ = try await api.send(.post, "/v1/tasks", json: "{}")
            let metrics = try await api.send(.get, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
            for line in [
                #"almanac_commands_total{action="create",result="ok"} 1"#,
                #"almanac_commands_total{action="create",result="invalid"} 1"#,
                #"almanac_http_requests_total{route="v1/tasks",method="POST",status="201"} 1"#,
                #"almanac_http_requests_total{route="v1/tasks",method="POST",status="422"} 1"#,
                "almanac_due_index_size 1",
                "almanac_tasks 1",
            ] {
                #expect(metrics.body.contains(line), "missing: \(line)")
            }
            #expect(metrics.body.contains("almanac_http_request_duration_seconds_bucket"))
        }
    }

    @Test func metricsShowTheGroupCommitBatchSizesOfAnLMDBJournal() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-api-metrics") { directory in
            let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 16 << 20))
            defer { journal.close() }
            try await APIHarness.with(journal: journal) { (api: APIHarness) async throws in
                for index in 0..<3 { _ = try await api.create(Bodies.every(name: "m\(index)")) }
                let metrics = try await api.send(.get, "/metrics").body
                for line in [
                    "# TYPE almanac_journal_group_commit_batch_events histogram",
                    #"almanac_journal_group_commit_batch_events_bucket{le="1"} 3"#,
                    #"almanac_journal_group_commit_batch_events_bucket{le="+Inf"} 3"#,
                    "almanac_journal_group_commit_batch_events_sum 3",
                    "almanac_journal_group_commit_batch_events_count 3",
                    "almanac_journal_head_position 3",
                ] {
                    #expect(metrics.contains(line), "missing: \(line)")
                }
            }
        }
    }

    @Test func theRouterAnswers404And405AsProblems() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let missing = try await api.send(.get, "/v2/nothing")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/problem+json")
            let wrongMethod = try await api.send(.patch, "/v1/tasks")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "GET, HEAD, POST")
            #expect(try await api.send(.delete, "/v1/runs").status == 405)
        }
    }

    @Test func theOpenAPIDocumentIsServed() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let reply = try await api.send(.get, "/v1/openapi.json")
            #expect(reply.status == 200)
            #expect(reply.object["openapi"] as? String == "3.1.0")
            let paths = try #require(reply.object["paths"] as? [String: Any])
            for path in ["/v1/tasks", "/v1/tasks/{id}", "/v1/runs", "/v1/events", "/v1/stream", "/v1/schedules/preview", "/readyz"] {
                #expect(paths[path] != nil, "\(path) is not described")
            }
        }
    }

    @Test func corsIsOffByDefaultAndAllowsConfiguredOrigins() async throws {
        let origin: HTTPFields = [.origin: "https://ops.example"]
        try await APIHarness.with { (api: APIHarness) async throws in
            #expect(try await api.send(.get, "/healthz", headers: origin).header("Access-Control-Allow-Origin") == nil)
        }
        try await APIHarness.with(configuration: APIConfiguration(corsOrigins: ["https://ops.example"])) { (api: APIHarness) async throws in
            #expect(try await api.send(.get, "/healthz", headers: origin).header("Access-Control-Allow-Origin") == "https://ops.example")
            let other: HTTPFields = [.origin: "https://evil.example"]
            #expect(try await api.send(.get, "/healthz", headers: other).header("Access-Control-Allow-Origin") == nil)
            let preflight = try await api.send(.options, "/v1/tasks", headers: origin)
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Methods") == "GET, HEAD, POST")
        }
    }

    @Test func theWebUIIsServedFromTheBuildWithValidatorsAndNoOutsideSources() async throws {
        try await APIHarness.with { (api: APIHarness) async throws in
            let page = try await api.send(.get, "/")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.body.contains(#"<script type="module" src="/ui/app.js"></script>"#))
            #expect(page.header("Content-Security-Policy")?.hasPrefix("default-src 'self'") == true)
            // Every module the page loads is served, with its type; none comes from elsewhere.
            for path in ["/ui/app.js", "/ui/style.css", "/ui/lib/api.js", "/ui/lib/live.js", "/ui/views/form.js", "/ui/views/task.js", "/ui/icon.svg"] {
                let file = try await api.send(.get, path)
                #expect(file.status == 200, "\(path)")
                #expect(!file.body.contains("http://") || path.hasSuffix(".svg"), "\(path) refers to another origin")
                #expect(!file.body.contains("https://") || path.hasSuffix("form.js"), "\(path) refers to another origin")
            }
            #expect(try await api.send(.get, "/ui/app.js").header("Content-Type") == "text/javascript; charset=utf-8")
            // Revalidation: the ETag answers 304.
            let etag = try #require(page.header("ETag"))
            let again = try await api.send(.get, "/", headers: [.ifNoneMatch: etag])
            #expect(again.status == 304)
            #expect(again.body.isEmpty)
            let missing = try await api.send(.get, "/ui/nope.js")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/problem+json")
            #expect(try await api.send(.get, "/ui/..%2FPackage.swift").status == 404)
            #expect(try await api.send(.post, "/").status == 405)
        }
    }
}

/// `GET /v1/stats/runs`: every run of the window counted from the journal, per minute.
@Suite struct RunStatsRouteTests {
    @Test func runsOfTheLastHourAreCountedPerMinuteWithLateness() async throws {
        try await APIHarness.with { api in
            let id = try await api.create(Bodies.every("60s"))
            let task = TaskID(id)
            // Ten occurrences claimed 2 s late, one minute apart in wall time, half of them failing.
            for index in 0..<10 {
                let due = APIHarness.start + .seconds(Int64(60 + index * 60))
                api.clock.advance(to: due + .seconds(2))
                let occurrence = OccurrenceID.scheduled(task, at: due)
                try await api.commands.execute(TaskCommand(taskID: task, actor: "scheduler", action: .startRun(occurrence)))
                let run = RunID(occurrence, attempt: 1)
                let outcome = RunOutcome(statusCode: index.isMultiple(of: 2) ? 200 : 500, duration: .milliseconds(5))
                try await api.commands.execute(TaskCommand(
                    taskID: task, actor: "scheduler", action: index.isMultiple(of: 2) ? .completeRun(run, outcome) : .failRun(run, outcome)
                ))
            }
            let stats = try await api.send(.get, "/v1/stats/runs")
            #expect(stats.status == 200)
            let object = stats.object
            #expect(object["started"] as? Int == 10)
            #expect(object["succeeded"] as? Int == 5)
            #expect(object["failed"] as? Int == 5)
            #expect((object["latenessMs"] as? [String: Any])?["p99"] as? Double == 2000)
            #expect(object["complete"] as? Bool == true)
            let minutes = object["minutes"] as? [[String: Any]] ?? []
            #expect(minutes.count == 61)
            #expect(minutes.reduce(0) { $0 + ($1["started"] as? Int ?? 0) } == 10)
            #expect(minutes.allSatisfy { ($0["started"] as? Int ?? 0) <= 1 }, "one claim per minute")
            // A window that starts after the runs counts none; a window beyond a day is refused.
            api.clock.advance(by: .seconds(5))
            let later = try await api.send(.get, "/v1/stats/runs?since=\((api.clock.now() - .seconds(1)).rfc3339)")
            #expect(later.object["started"] as? Int == 0)
            let tooLong = try await api.send(.get, "/v1/stats/runs?since=\((api.clock.now() - .seconds(90_000)).rfc3339)")
            #expect(tooLong.status == 422 && tooLong.invalidFields == ["since"])
        }
    }
}
