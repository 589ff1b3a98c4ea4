import AlmanacTesting
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Journal
import NIOCore
import Scheduling
import Server

/// An API over a real journal and projection store on a manual clock, driven through
/// Hummingbird's in-process router client (no socket).
struct APIHarness: Sendable {
    let journal: any Journal
    let clock: ManualClock
    let store: ProjectionStore
    let commands: CommandService
    let status: ServerStatus
    let client: any TestClientProtocol

    static let start = Instant(rfc3339: "2026-03-01T00:00:00Z")!

    static func with(
        journal: any Journal = InMemoryJournal(),
        configuration: APIConfiguration = APIConfiguration(),
        _ body: @Sendable (APIHarness) async throws -> Void
    ) async throws {
        let clock = ManualClock(now: start)
        let store = ProjectionStore(journal: journal)
        try await store.catchUp()
        let commands = CommandService(journal: journal, store: store, clock: clock)
        let status = ServerStatus()
        let api = API(
            journal: journal, store: store, commands: commands, clock: clock, metrics: ServerMetrics(), status: status,
            configuration: configuration
        )
        let application = Application(responder: api.responder)
        try await application.test(.router) { client in
            try await body(APIHarness(
                journal: journal, clock: clock, store: store, commands: commands, status: status, client: client
            ))
        }
    }

    /// Sends a request; `json` is sent as the body with `Content-Type: application/json`.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = headers
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await send(method, uri, bytes: json.map { Array($0.utf8) }, headers: headers)
    }

    /// Sends a request with `bytes` as its body, as they are (they need not be UTF-8).
    func send(_ method: HTTPRequest.Method, _ uri: String, bytes: [UInt8]?, headers: HTTPFields = [:]) async throws -> Reply {
        try await client.execute(uri: uri, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) }) { response in
            Reply(status: response.status.code, headers: response.headers, body: String(buffer: response.body))
        }
    }

    /// Creates a task from `json` and returns its id.
    func create(_ json: String, headers: HTTPFields = [:]) async throws -> String {
        let reply = try await send(.post, "/v1/tasks", json: json, headers: headers)
        guard reply.status == 201, let id = reply.object["id"] as? String else {
            throw HarnessError("create failed: \(reply.status) \(reply.body)")
        }
        return id
    }

    var head: UInt64 { get async throws { try await journal.head() } }
}

/// A response as the tests read it.
struct Reply: Sendable {
    let status: Int
    let headers: HTTPFields
    let body: String

    /// The body parsed as a JSON object (empty when it is not one).
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// The `items` of a page.
    var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }

    /// The names of the invalid fields of a problem.
    var invalidFields: [String] {
        (object["invalidFields"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Task bodies used across the tests.
enum Bodies {
    static func every(_ every: String = "10s", name: String = "interval", url: String = "http://127.0.0.1:9/hook", extra: String = "") -> String {
        #"{"name":"\#(name)","schedule":{"every":"\#(every)"},"action":{"url":"\#(url)"}\#(extra)}"#
    }

    static let cron = #"""
        {"name":"nightly-report","description":"the nightly report","labels":{"team":"billing"},
         "schedule":{"cron":"0 30 2 * * *","timeZone":"Europe/Lisbon"},
         "action":{"url":"https://reports.example/run","method":"PUT","headers":{"X-Token":"abc"},"body":"{\"task\":\"{{taskId}}\"}","timeout":"10s"},
         "retry":{"maxAttempts":3,"initialBackoff":"1s","maxBackoff":"5m","multiplier":2},
         "overlap":"forbid","misfire":"runAll","misfireLimit":5}
        """#

    static let once = #"{"name":"one-off","schedule":{"at":"2026-03-01T00:00:05Z"},"action":{"url":"http://127.0.0.1:9/once"}}"#
}
