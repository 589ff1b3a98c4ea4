import AlmanacTesting
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Scheduling
import Synchronization

/// The built `almanac serve`, started on port 0 with a data directory, and a client for it.
final class LiveServer: Sendable {
    let process: ChildProcess
    let port: Int
    let client: HTTPClient

    var base: String { "http://127.0.0.1:\(port)" }

    /// Starts the server; with `collectingLogs`, its log (standard error) joins `process.lines`.
    static func start(
        executable: String? = nil, dataDirectory: String, client: HTTPClient, extra: [String] = [], logLevel: String = "warning",
        collectingLogs: Bool = false
    ) async throws -> LiveServer {
        let process = try ChildProcess(
            executable: try executable ?? BuiltProduct.path("almanac"),
            arguments: ["serve", "--data-dir", dataDirectory, "--port", "0", "--log-level", logLevel, "--log-format", "text"] + extra,
            collectingStandardError: collectingLogs
        )
        let prefix = "almanac: listening on http://127.0.0.1:"
        guard await process.waitFor(timeout: 60, { lines in lines.contains { $0.hasPrefix(prefix) } }),
            let line = process.lines.first(where: { $0.hasPrefix(prefix) }), let port = Int(line.dropFirst(prefix.count))
        else {
            process.send(SIGKILL)
            throw HarnessError("almanac serve did not report a port: \(process.lines)")
        }
        return LiveServer(process: process, port: port, client: client)
    }

    private init(process: ChildProcess, port: Int, client: HTTPClient) {
        self.process = process
        self.port = port
        self.client = client
    }

    /// Sends a request and returns the status and the body parsed as JSON (when it is).
    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, json: String? = nil, headers: [(String, String)] = []) async throws -> (status: Int, body: Any?) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)))
    }

    /// Stops the server with SIGTERM and returns its exit status.
    func stop() async -> Int32 {
        process.send(SIGTERM)
        return await process.waitForExit().status
    }
}

/// One Server-Sent Event.
struct StreamEvent: Sendable {
    let id: UInt64
    let type: String
    let data: String
}

/// Reads `GET /v1/stream` in the background, collecting events.
final class StreamReader: Sendable {
    private final class State: Sendable {
        let mutex = Mutex<(events: [StreamEvent], ended: Bool, heartbeats: Int, openedAt: UInt64?)>(([], false, 0, nil))
        func withLock<T>(_ body: (inout (events: [StreamEvent], ended: Bool, heartbeats: Int, openedAt: UInt64?)) -> T) -> T { mutex.withLock { body(&$0) } }
    }

    private let state = State()
    private let task: Task<Void, Never>

    init(server: LiveServer, headers: [(String, String)] = [], query: String = "") {
        let state = self.state
        task = Task {
            var request = HTTPClientRequest(url: server.base + "/v1/stream" + query)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            do {
                let response = try await server.client.execute(request, timeout: .seconds(120))
                var pending = ""
                for try await chunk in response.body {
                    pending += String(buffer: chunk)
                    while let end = pending.range(of: "\n\n") {
                        let block = pending[..<end.lowerBound]
                        pending = String(pending[end.upperBound...])
                        var id: UInt64?
                        var type = "message"
                        var data: String?
                        for line in block.split(separator: "\n") {
                            if line.hasPrefix("id: ") { id = UInt64(line.dropFirst(4)) }
                            if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                            if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                        }
                        if let id, let data { state.withLock { $0.events.append(StreamEvent(id: id, type: type, data: data)) } }
                        // The opening block: an `id:` and no data (the position it starts after).
                        if let id, data == nil { state.withLock { if $0.openedAt == nil { $0.openedAt = id } } }
                        if block.split(separator: "\n").contains(": heartbeat") { state.withLock { $0.heartbeats += 1 } }
                    }
                }
            } catch {}
            state.withLock { $0.ended = true }
        }
    }

    var events: [StreamEvent] { state.withLock { $0.events } }
    var ended: Bool { state.withLock { $0.ended } }
    var heartbeats: Int { state.withLock { $0.heartbeats } }
    /// The position the stream's opening block named.
    var openedAt: UInt64? { state.withLock { $0.openedAt } }

    /// Waits until `predicate` holds for the events seen, or `timeout` seconds pass.
    func wait(timeout: Double, _ predicate: ([StreamEvent]) -> Bool) async -> Bool {
        let clock = SystemClock()
        let deadline = clock.now() + .milliseconds(Int64(timeout * 1000))
        while clock.now() < deadline {
            if predicate(events) { return true }
            try? await clock.sleep(until: clock.now() + .milliseconds(20))
        }
        return predicate(events)
    }

    func cancel() { task.cancel() }
}
