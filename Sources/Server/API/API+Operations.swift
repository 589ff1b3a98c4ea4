import Synchronization
import Access
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Journal
import NIOCore
import Projections
import Prometheus
import Scheduling
import ServiceLifecycle

/// Health, readiness, metrics, the OpenAPI document, schedule previews and the event stream.
extension API {
    func health() -> Response {
        json(.ok, .object([("status", .string("ok"))]))
    }

    /// 200 when the journal answers, the projection has applied everything in it, and the
    /// scheduler runs; 503 otherwise. Carries the head position and the projection's digest.
    /// The journal's head for the probes (`/readyz`, `/metrics`): they must answer quickly
    /// even while a cluster's database is out of reach, so they wait 2 s at most.
    func probeHead() async -> Result<UInt64, any Error> {
        let journal = self.journal
        let answer = await within(.seconds(2)) { () async -> Result<UInt64, any Error> in
            do { return .success(try await journal.head()) } catch { return .failure(error) }
        }
        return answer ?? .failure(JournalError(code: .unavailable, message: "the journal did not answer within 2 s"))
    }

    /// `body`'s result, or nil once `limit` passes — without waiting for `body` to end.
    func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
        let clock = self.clock
        let state = FirstAnswer<T>()
        return await withCheckedContinuation { continuation in
            state.start(continuation)
            let worker = Task { state.finish(await body()) }
            Task {
                try? await clock.sleep(until: clock.now() + limit)
                state.finish(nil)
                worker.cancel()
            }
        }
    }

    func ready() async -> Response {
        var head: UInt64?
        var journalProblem: String?
        switch await probeHead() {
        case .success(let value): head = value
        case .failure(let error): journalProblem = "\(error)"
        }
        // Other nodes of a cluster append all the time: apply up to the head just read, so a
        // busy cluster does not look behind (a projection that cannot get there is).
        if let head { _ = await within(.seconds(2)) { try? await self.store.catchUp(through: head) } }
        let position = await store.position
        // The digest of a million tasks takes seconds: the newest one computed is shown, with
        // the position it is of; a newer one is on its way when the projection has moved.
        let digest: (position: UInt64, digest: String)
        if let recent = await store.recentDigest() { digest = recent } else { digest = await store.digest() }
        let caughtUp = head.map { position >= $0 } ?? false
        let running = status.schedulerRunning
        let ready = head != nil && caughtUp && running
        var fields: [(String, JSONOut)] = [
            ("status", .string(ready ? "ready" : "unavailable")),
            ("journal", .string(journalProblem ?? "open")),
            ("headPosition", head.map { .uint($0) } ?? .null),
            ("projectionPosition", .uint(position)),
            ("projectionCaughtUp", .bool(caughtUp)),
            ("schedulerRunning", .bool(running)),
            ("digest", .string(digest.digest)),
            ("digestPosition", .uint(digest.position)),
        ]
        if let assignment = status.assignment, assignment.shardCount > 1 {
            fields.append(("shardCount", .int(assignment.shardCount)))
            fields.append(("shardsHeld", .int(assignment.view.view.held.count)))
        }
        if let journal = journal as? LMDBJournal, let info = try? journal.storageInfo() {
            fields.append(("journalUsedBytes", .int(info.usedBytes)))
            fields.append(("journalMapBytes", .int(info.mapSize)))
        }
        return json(ready ? .ok : .serviceUnavailable, .object(fields))
    }

    /// Prometheus text: counters kept as things happen, and gauges read now.
    func metricsText() async -> Response {
        if let journal = journal as? LMDBJournal {
            if let info = try? journal.storageInfo() {
                metrics.gauge("almanac_journal_used_bytes", Double(info.usedBytes), help: "Bytes of the journal's LMDB map in use.")
                metrics.gauge("almanac_journal_map_bytes", Double(info.mapSize), help: "The journal's LMDB map size (its capacity).")
            }
        }
        if case .success(let head) = await probeHead() {
            metrics.gauge("almanac_journal_head_position", Double(head), help: "The position of the journal's last event.")
        }
        let (tasks, due, position) = await store.read { projection in
            (projection.tasks.count, projection.dueIndex.liveCount, projection.position)
        }
        metrics.gauge("almanac_tasks", Double(tasks), help: "Tasks in the projection, deleted ones included.")
        metrics.gauge("almanac_due_index_size", Double(due), help: "Attempts waiting in the due index.")
        metrics.gauge("almanac_projection_position", Double(position), help: "The last journal position the projection applied.")
        metrics.gauge("almanac_runs_in_flight", Double(status.dispatcher?.running ?? 0), help: "Attempts being executed now.")
        var text = metrics.registry.emitToBuffer()
        if let journal = journal as? LMDBJournal {
            text += API.batchSizeHistogram(journal.commitBatchSizes(), statistics: journal.commitStatistics())
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }

    /// The group-commit batch sizes as a Prometheus histogram (the journal keeps the counts).
    static func batchSizeHistogram(_ sizes: (bounds: [Int], counts: [Int]), statistics: (commits: Int, events: Int)) -> [UInt8] {
        let name = "almanac_journal_group_commit_batch_events"
        var text = "# HELP \(name) Events per group commit (one fsync each) since the journal opened.\n"
        text += "# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bound, count) in zip(sizes.bounds, sizes.counts) {
            cumulative += count
            text += "\(name)_bucket{le=\"\(bound == Int.max ? "+Inf" : String(bound))\"} \(cumulative)\n"
        }
        text += "\(name)_sum \(statistics.events)\n\(name)_count \(statistics.commits)\n"
        return Array(text.utf8)
    }

    func openAPI() throws -> Response {
        guard let document = OpenAPIDocument.bytes else {
            throw Problem(.internalServerError, code: "internal", title: "Internal error",
                          detail: "the OpenAPI document is missing from this build")
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }

    /// The next occurrences of a schedule, in UTC and in its zone, flagged where DST moved them.
    func preview(_ request: Request) async throws -> Response {
        let body = try await readJSON(request)
        let reader = FieldReader()
        let fields = reader.object(body, at: "", allowed: ["schedule", "count", "after"])
        guard let fields else { throw Problem.invalid(reader.problems) }
        let schedule = reader.required(
            TaskInput.schedule(fields["schedule"], reader: reader, now: nil, path: "schedule"), fields["schedule"], at: "schedule")
        let count = reader.integer(fields["count"], at: "count", range: 1...1000) ?? 10
        let after = reader.instant(fields["after"], at: "after") ?? clock.now()
        guard reader.problems.isEmpty, let schedule else { throw Problem.invalid(reader.problems) }
        var zone = "UTC"
        var cron: CronSchedule?
        if case .cron(let value) = schedule.kind {
            cron = value
            zone = value.timeZoneIdentifier
        }
        // RFC 3339 has four-digit years: the preview ends with the year 9999.
        let lastInstant = Instant(rfc3339: "9999-12-31T23:59:59.999999Z")!
        let occurrences = schedule.occurrences(after: after, count: count).filter { $0 <= lastInstant }.map { instant -> JSONOut in
            var entry: [(String, JSONOut)] = [("at", .string(instant.rfc3339))]
            let offset = cron?.utcOffset(at: instant) ?? 0
            entry.append(("local", .string(API.localTime(instant, offset: offset))))
            if let adjustment = cron?.dstAdjustment(at: instant) {
                entry.append(("dst", .string(adjustment.rawValue)))
            }
            return .object(entry)
        }
        return json(.ok, .object([("timeZone", .string(zone)), ("occurrences", .array(occurrences))]))
    }

    /// RFC 3339 local time with its offset, e.g. `2026-03-08T03:00:00-04:00`.
    static func localTime(_ instant: Instant, offset: Int64) -> String {
        let local = Instant(microsecondsSinceEpoch: instant.microsecondsSinceEpoch + offset * 1_000_000).rfc3339.dropLast()
        if offset == 0 { return local + "Z" }
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        return local + sign + String(format: "%02d:%02d", minutes / 60, minutes % 60)
    }

    // MARK: - Event stream

    /// Server-Sent Events: every journal event after `Last-Event-ID` (or `?after=`, or from
    /// now), each with `id:` = its position, and a heartbeat comment when nothing happens.
    /// Ends when the client goes away or the server shuts down.
    func stream(_ request: Request, context: APIRequestContext) async throws -> Response {
        var start: UInt64
        if let last = request.headers[.lastEventID] {
            guard let position = UInt64(last.trimmingCharacters(in: .whitespaces)), position <= UInt64(Int64.max) else {
                throw Problem.invalid("Last-Event-ID", "must be a journal position: a whole number from 0 to \(Int64.max)")
            }
            start = position
        } else if request.uri.queryParameters.get("after") != nil {
            start = try queryPosition(request, "after")
        } else {
            start = try await journal.head()
        }
        let journal = self.journal
        let clock = self.clock
        let heartbeat = configuration.heartbeat
        // A stream lasts only while its caller may still read: it ends when the caller's token
        // is revoked, or, for a caller without one, once tokens are required.
        let store = self.store
        let tokenID = API.caller.token?.id
        let caller = API.caller
        let api = self
        let requireAuth = configuration.requireAuth
        let stillAllowed: @Sendable () -> Bool = {
            let access = store.currentAccess
            if let tokenID { return access.tokens[tokenID]?.isActive == true }
            return !access.hasTokens && !requireAuth
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        if request.method == .head { return Response(status: .ok, headers: headers) }
        let body = ResponseBody { [start] writer in
            let output = StreamOutput(writer)
            do {
                // A graceful shutdown cancels the loop wherever it is: waiting for events, or
                // stuck writing to a client that stopped reading.
                try await cancelWhenGracefulShutdown {
                    var position = start
                    // The opening `id:` gives a client that reconnects before any event the
                    // position to resume from, so nothing falls between its two connections.
                    try await output.write(Array(": stream from position \(start)\nid: \(start)\nretry: 2000\n\n".utf8))
                    while !Task.isCancelled, stillAllowed() {
                        let batch = try await journal.read(after: position, limit: 256)
                        if batch.isEmpty {
                            if try await !API.waitForEvents(journal, after: position, clock: clock, timeout: heartbeat) {
                                try await output.write(Array(": heartbeat\n\n".utf8))
                            }
                            continue
                        }
                        var text: [UInt8] = []
                        for event in try await api.visibleEvents(batch, to: caller) {
                            text.append(contentsOf: "id: \(event.position)\nevent: \(event.type)\ndata: ".utf8)
                            Representation.event(event).write(into: &text)
                            text.append(contentsOf: "\n\n".utf8)
                        }
                        position = batch[batch.count - 1].position
                        if batch.contains(where: { $0.streamID.isReserved }) {
                            // An access change: judge the caller on it, not on a store that
                            // has not applied it yet.
                            try await store.catchUp(through: position)
                        }
                        if text.isEmpty { continue }
                        try await output.write(text)
                    }
                }
            } catch is CancellationError where !output.writing {
                // the server is shutting down
            } catch let error as JournalError where error.code == .closed && !output.writing {
                // the journal closed: the server is shutting down
            }
            // Cancelled in the middle of a write, the error above ends the response without
            // its end: the connection is closed rather than left to a client that is not reading.
            writer = output.writer
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Waits for an event after `position` or for `timeout`; true if events arrived.
    static func waitForEvents(_ journal: any Journal, after position: UInt64, clock: any WallClock, timeout: Duration) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                // A graceful shutdown ends the wait (and so the stream) at once.
                try await cancelWhenGracefulShutdown { try await journal.waitForEvents(after: position) }
                return true
            }
            group.addTask {
                try await clock.sleep(until: clock.now() + timeout)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
    }
}

/// The OpenAPI 3.1 document, bundled as a resource (`Sources/Server/Resources/openapi.json`,
/// which `docs/openapi.json` links to).
enum OpenAPIDocument {
    static let bytes: [UInt8]? = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let data = try? Data(contentsOf: url), !data.isEmpty
        else { return nil }
        return Array(data)
    }()
}

/// The writer of one event-stream response, handed into the task that writes it. Used by one
/// task at a time (the response's, then the writing loop while the response awaits it).
private final class StreamOutput: @unchecked Sendable {
    var writer: any ResponseBodyWriter
    /// Whether a write is in progress (so a cancellation then means a stuck client).
    private(set) var writing = false

    init(_ writer: any ResponseBodyWriter) { self.writer = writer }

    func write(_ bytes: [UInt8]) async throws {
        writing = true
        try await writer.write(ByteBuffer(bytes: bytes))
        writing = false
    }
}

/// A continuation resumed once, by whichever answer comes first.
final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T?, Never>?>(nil)

    func start(_ continuation: CheckedContinuation<T?, Never>) { self.continuation.withLock { $0 = continuation } }

    func finish(_ value: T?) { continuation.withLock { $0.take() }?.resume(returning: value) }
}
