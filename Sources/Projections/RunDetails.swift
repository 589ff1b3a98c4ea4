public import Journal
import Scheduling

extension RunRecord {
    /// `records` with their error, response excerpt and skip reason read from the events at
    /// their ``detailPosition`` in `journal` (the run log keeps positions, not texts: an
    /// excerpt is up to 4 KiB, and a million tasks keep twenty records each).
    public static func withDetails(_ records: [RunRecord], from journal: some Journal) async throws -> [RunRecord] {
        var detailed = records
        for index in detailed.indices {
            guard let position = detailed[index].detailPosition, position > 0 else { continue }
            guard let recorded = try await journal.read(after: position - 1, limit: 1).first, recorded.position == position else {
                throw ProjectionError(position: position, message: "the event holding run \(detailed[index].run)'s details is missing")
            }
            detailed[index].fillDetails(from: recorded)
        }
        return detailed
    }

    /// `records` with their details read by `event` (the event at a journal position), for a
    /// reader of the journal that does not wait.
    public static func withDetails(_ records: [RunRecord], event: (UInt64) throws -> RecordedEvent?) throws -> [RunRecord] {
        var detailed = records
        for index in detailed.indices {
            guard let position = detailed[index].detailPosition, position > 0 else { continue }
            guard let recorded = try event(position), recorded.position == position else {
                throw ProjectionError(position: position, message: "the event holding run \(detailed[index].run)'s details is missing")
            }
            detailed[index].fillDetails(from: recorded)
        }
        return detailed
    }

    /// Takes the error, response excerpt or skip reason from `recorded`, the event that
    /// finished or skipped this attempt.
    mutating func fillDetails(from recorded: RecordedEvent) {
        guard let event = try? EventCodec.decode(
            type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload,
            taskID: task, at: Instant(microsecondsSinceEpoch: recorded.recordedAt)
        ) else { return }
        switch event.kind {
        case .runSucceeded(_, let outcome), .runFailed(_, let outcome, _):
            error = outcome.error
            responseExcerpt = outcome.responseExcerpt
        case .occurrenceSkipped(let skip):
            skipReason = skip.reason
        default:
            break
        }
    }
}
