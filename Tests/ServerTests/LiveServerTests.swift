import AlmanacTesting
import AsyncHTTPClient
import Foundation
import NIOCore
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
            // Its opening block named the head, so a reconnect before any event loses nothing.
            let quietHead = try #require(try await restarted.send(.GET, "/readyz").body as? [String: Any])["headPosition"] as? Int
            #expect(quiet.openedAt == quietHead.map(UInt64.init))
            #expect(quiet.events.isEmpty)
            quiet.cancel()
            #expect(restarted.stop() == 0)
            resumed.cancel()
            stream.cancel()
        }
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func stalledClientsCannotHoldAGracefulShutdown() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let clock = SystemClock()
        try await TemporaryDirectory.with(prefix: "almanac-stalled") { directory in
            let server = try LiveServer.start(dataDirectory: directory, client: client, extra: ["--idle-timeout", "2s"])
            // A HEAD of the stream answers at once, without a body.
            var head = HTTPClientRequest(url: server.base + "/v1/stream")
            head.method = .HEAD
            let headResponse = try await client.execute(head, timeout: .seconds(5))
            #expect(headResponse.status == .ok)
            #expect(headResponse.headers.first(name: "Content-Type") == "text/event-stream")

            // One client sends half a request and stops; another opens the stream and never reads.
            let halfRequest = try RawConnection(port: server.port)
            try halfRequest.send("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"na")
            let deaf = try RawConnection(port: server.port, receiveBuffer: 4096)
            try deaf.send("GET /v1/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            // Events big enough to fill the socket buffers between the server and the deaf client.
            let filler = String(repeating: "x", count: 60_000)
            for index in 0..<150 {
                let body = #"{"name":"big-\#(index)","schedule":{"every":"1h"},"action":{"url":"http://127.0.0.1:9/","body":"\#(filler)"}}"#
                #expect(try await server.send(.POST, "/v1/tasks", json: body).status == 201)
            }
            // SIGTERM: the server ends within its bound, although neither client cooperates.
            let started = clock.now()
            #expect(server.stop() == 0)
            let took = clock.now() - started
            // Without the fixes the half request holds the server until the group's own limit
            // (shutdown timeout 30 s + 5 s); with them it stops in about a second.
            #expect(took < .seconds(20), "shutdown took \(took)")
            halfRequest.close()
            deaf.close()
        }
        try await client.shutdown()
    }
}

/// A plain TCP connection to 127.0.0.1, for clients that misbehave on purpose.
final class RawConnection: Sendable {
    private let descriptor: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("connect: \(errno)") }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw HarnessError("send: \(errno)") }
    }

    func close() { Glibc.close(descriptor) }
}
