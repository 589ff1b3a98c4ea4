import AlmanacTesting
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Scheduling
import Testing

/// The built `almanac serve` as a user runs it: a real LMDB data directory, a real socket on
/// 127.0.0.1, a real webhook receiver, the SSE stream, SIGTERM and a restart.
@Suite("almanac serve, live", .serialized)
struct LiveServerTests {
    @Test(.timeLimit(.minutes(3)))
    func tasksOfEveryKindFireThroughTheStreamAndSurviveARestart() async throws {
        let receiver = try await WebhookReceiver.start { path in .init(status: 200, body: "done \(path)") }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let clock = SystemClock()
        try await TemporaryDirectory.with(prefix: "almanac-live") { directory in
            let server = try LiveServer.start(dataDirectory: directory, client: client)
            let stream = StreamReader(server: server, query: "?after=0")

            let soon = Instant(microsecondsSinceEpoch: (clock.now().microsecondsSinceEpoch / 1_000_000 + 3) * 1_000_000)
            let bodies = [
                "interval": #"{"name":"interval","schedule":{"every":"1s"},"action":{"url":"\#(receiver.url("/interval"))"}}"#,
                "cron": #"{"name":"cron","schedule":{"cron":"* * * * * *","timeZone":"Europe/Lisbon"},"action":{"url":"\#(receiver.url("/cron"))","body":"run {{runId}} at {{scheduledAt}}"}}"#,
                "once": #"{"name":"once","schedule":{"at":"\#(soon.rfc3339)"},"action":{"url":"\#(receiver.url("/once"))"}}"#,
            ]
            var ids: [String: String] = [:]
            for (name, body) in bodies {
                let (status, created) = try await server.send(.POST, "/v1/tasks", json: body)
                #expect(status == 201, "\(name): \(String(describing: created))")
                ids[name] = (created as? [String: Any])?["id"] as? String
            }
            #expect(ids.count == 3)

            // Every task's run is seen succeeding through the stream.
            let fired = await stream.wait(timeout: 20) { events in
                let succeeded = Set(events.filter { $0.type == "RunSucceeded" }.compactMap { event in
                    ids.first { event.data.contains("\"taskId\":\"\($0.value)\"") }?.key
                })
                return succeeded == Set(bodies.keys)
            }
            #expect(fired, "stream saw: \(stream.events.map(\.type))")
            let positions = stream.events.map(\.id)
            #expect(positions == Array(1...UInt64(positions.count)), "the stream skipped or repeated a position")
            let calls = receiver.received
            #expect(calls.contains { $0.uri == "/once" && $0.header("Idempotency-Key") == "\(ids["once"]!)@\(soon.microsecondsSinceEpoch)" })
            #expect(calls.contains { $0.uri == "/cron" && $0.body.hasPrefix("run \(ids["cron"]!)@") })

            // Quiesce: pause the recurring tasks, wait until nothing runs, then note the state.
            for name in ["interval", "cron"] {
                #expect(try await server.send(.POST, "/v1/tasks/\(ids[name]!)/pause", headers: [("Almanac-Reason", "restart test")]).status == 200)
            }
            var before: Any?
            for _ in 0..<100 {
                let (_, list) = try await server.send(.GET, "/v1/tasks?status=active,paused,completed")
                let items = (list as? [String: Any])?["items"] as? [[String: Any]] ?? []
                if items.allSatisfy({ $0["running"] as? Int == 0 }) { before = list; break }
                try await clock.sleep(until: clock.now() + .milliseconds(50))
            }
            let beforeTasks = try #require(before as? [String: Any])
            let once = (beforeTasks["items"] as? [[String: Any]])?.first { $0["id"] as? String == ids["once"] }
            #expect(once?["status"] as? String == "completed")
            let readyBefore = try #require(try await server.send(.GET, "/readyz").body as? [String: Any])
            #expect(readyBefore["status"] as? String == "ready")

            // SIGTERM ends the server (and the open stream) gracefully.
            #expect(server.stop() == 0)
            #expect(await stream.wait(timeout: 10) { _ in stream.ended })

            let restarted = try LiveServer.start(dataDirectory: directory, client: client, extra: ["--stream-heartbeat", "200ms"])
            let readyAfter = try #require(try await restarted.send(.GET, "/readyz").body as? [String: Any])
            #expect(readyAfter["digest"] as? String == readyBefore["digest"] as? String)
            #expect(readyAfter["headPosition"] as? Int == readyBefore["headPosition"] as? Int)
            let after = try await restarted.send(.GET, "/v1/tasks?status=active,paused,completed").body
            #expect(NSDictionary(dictionary: beforeTasks).isEqual(to: after as? [String: Any] ?? [:]))

            // Last-Event-ID resumes the stream with no gap, and new events follow.
            let head = try #require(readyAfter["headPosition"] as? Int)
            let resumed = StreamReader(server: restarted, headers: [("Last-Event-ID", "\(head - 2)")])
            #expect(try await restarted.send(.POST, "/v1/tasks/\(ids["interval"]!)/resume").status == 200)
            let continued = await resumed.wait(timeout: 10) { events in events.count >= 4 }
            #expect(continued)
            let resumedIDs = resumed.events.map(\.id)
            #expect(Array(resumedIDs.prefix(4)) == (UInt64(head - 1)...UInt64(head + 2)).map { $0 })
            #expect(resumed.events.dropFirst(2).first?.type == "TaskResumed")
            // A quiet stream sends heartbeats (200 ms here): pause again and listen.
            #expect(try await restarted.send(.POST, "/v1/tasks/\(ids["interval"]!)/pause").status == 200)
            let quiet = StreamReader(server: restarted)
            #expect(await quiet.wait(timeout: 10) { _ in quiet.heartbeats >= 3 }, "heartbeats: \(quiet.heartbeats)")
            quiet.cancel()
            #expect(restarted.stop() == 0)
            resumed.cancel()
            stream.cancel()
        }
        try await client.shutdown()
        try await receiver.stop()
    }
}
