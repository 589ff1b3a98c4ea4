import Engine
import Hummingbird
import Journal
import Scheduling

/// Run activity over a recent window, counted from the journal (every run, not only the ones
/// the run log keeps in memory).
extension API {
    static let statsRoutes: [Route] = [
        Route("v1/stats/runs", [.get: { api, request, _, _ in try await api.runStats(request) }]),
    ]

    /// The most events one request scans; beyond it the answer says `complete: false`.
    static let statsScanLimit = 500_000

    func runStats(_ request: Request) async throws -> Response {
        let now = clock.now()
        let since = try queryInstant(request, "since") ?? (now - .seconds(3600))
        guard since < now, now - since <= .seconds(86_400) else {
            throw Problem.invalid("since", "must be an instant in the last 24 hours")
        }
        let minutes = Int((now - since).wholeMicroseconds / 60_000_000) + 1
        var started = [Int](repeating: 0, count: minutes)
        var succeeded = started, failed = started, skipped = started
        var lateness: [Int64] = []
        var scanned = 0
        var position = try await firstPosition(recordedAtOrAfter: since)
        let caller = API.caller
        scanning: while scanned < Self.statsScanLimit {
            let batch = try await journal.read(after: position, limit: 4096)
            if batch.isEmpty { break }
            position = batch[batch.count - 1].position
            scanned += batch.count
            for recorded in try await visibleEvents(batch, to: caller) {
                let micros = recorded.recordedAt - since.microsecondsSinceEpoch
                guard micros >= 0 else { continue }
                let minute = Int(micros / 60_000_000)
                guard minute < minutes else { continue }
                switch recorded.type {
                case "RunStarted":
                    started[minute] += 1
                    let at = Instant(microsecondsSinceEpoch: recorded.recordedAt)
                    if let event = try? EventCodec.decode(
                        type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload,
                        taskID: TaskID(recorded.streamID.rawValue), at: at
                    ), case .runStarted(let start) = event.kind {
                        lateness.append(max(0, (at - start.dueAt).wholeMicroseconds))
                    }
                case "RunSucceeded": succeeded[minute] += 1
                case "RunFailed": failed[minute] += 1
                case "OccurrenceSkipped": skipped[minute] += 1
                default: break
                }
            }
        }
        let head = try await journal.head()
        lateness.sort()
        func percentile(_ p: Double) -> JSONOut {
            guard !lateness.isEmpty else { return .null }
            let index = min(lateness.count - 1, max(0, Int((p / 100 * Double(lateness.count)).rounded(.up)) - 1))
            return .double(Double(lateness[index]) / 1000)
        }
        let buckets: [JSONOut] = (0..<minutes).map { minute in
            .object([
                ("start", .string((since + .seconds(Int64(minute) * 60)).rfc3339)),
                ("started", .int(started[minute])), ("succeeded", .int(succeeded[minute])),
                ("failed", .int(failed[minute])), ("skipped", .int(skipped[minute])),
            ])
        }
        let totals: [(String, JSONOut)] = [
            ("from", .string(since.rfc3339)),
            ("to", .string(now.rfc3339)),
            ("started", .int(started.reduce(0, +))),
            ("succeeded", .int(succeeded.reduce(0, +))),
            ("failed", .int(failed.reduce(0, +))),
            ("skipped", .int(skipped.reduce(0, +))),
        ]
        let latenessFields: [(String, JSONOut)] = [("p50", percentile(50)), ("p99", percentile(99)), ("count", .int(lateness.count))]
        let rest: [(String, JSONOut)] = [
            ("latenessMs", .object(latenessFields)),
            ("minutes", .array(buckets)),
            ("eventsScanned", .int(scanned)),
            ("complete", .bool(position >= head)),
        ]
        return json(.ok, .object(totals + rest))
    }

    /// The position just before the first event recorded at or after `instant` (binary search:
    /// recorded-at follows positions, within the moment between a decision and its commit).
    private func firstPosition(recordedAtOrAfter instant: Instant) async throws -> UInt64 {
        var low: UInt64 = 0
        var high = try await journal.head()
        while low < high {
            let middle = low + (high - low) / 2
            guard let record = try await journal.read(after: middle, limit: 1).first else { break }
            if record.recordedAt < instant.microsecondsSinceEpoch { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
