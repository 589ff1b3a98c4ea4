public import Journal
import Scheduling

/// Writes and reads projection snapshots: the tasks and run log at a journal position.
///
/// The format name carries every layout version the bytes depend on, so a snapshot written
/// by another layout is never trusted: the reader ignores it and replays from position 0.
public enum ProjectionSnapshot {
    /// The format name this build writes and accepts.
    public static let format = "projections/1+tasks/\(TaskStateCodec.version)+runs/1"

    /// The snapshot of `projection`: a CRC32C of the state, then the state.
    public static func make(_ projection: Projection) -> StoredSnapshot {
        let state = encodeState(projection)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(state.count + 4)
        let checksum = state.withUnsafeBytes { CRC32C.update(0, $0) }
        withUnsafeBytes(of: checksum.bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: state)
        return StoredSnapshot(position: projection.position, format: format, bytes: bytes)
    }

    /// The projection a snapshot holds, or nil when its format is not this build's.
    public static func load(_ snapshot: StoredSnapshot, runRetention: Int = 20) throws(ProjectionError) -> Projection? {
        guard snapshot.format == format else { return nil }
        do {
            return try snapshot.bytes.withUnsafeBytes { all throws(EventDecodingError) in
                guard all.count >= 4 else { throw EventDecodingError(message: "too short") }
                let stored = UInt32(bigEndian: all.loadUnaligned(as: UInt32.self))
                let raw = UnsafeRawBufferPointer(rebasing: all[4...])
                guard CRC32C.update(0, raw) == stored else { throw EventDecodingError(message: "checksum mismatch") }
                var reader = BinaryReader(raw)
                let taskCount = try reader.readInt()
                var tasks = TaskTable(minimumCapacity: max(0, taskCount))
                for _ in 0..<max(0, taskCount) {
                    let state = try TaskStateCodec.decode(from: &reader)
                    tasks[state.id] = state
                }
                var runLog = RunLog(retention: runRetention)
                for _ in 0..<max(0, try reader.readInt()) {
                    let task = TaskID(try reader.readString())
                    var records: [RunRecord] = []
                    for _ in 0..<max(0, try reader.readInt()) { records.append(try readRecord(&reader)) }
                    runLog.set(Array(records.suffix(runLog.retention)), for: task)
                }
                guard reader.isAtEnd else { throw EventDecodingError(message: "trailing bytes") }
                return Projection(tasks: tasks, runLog: runLog, position: snapshot.position)
            }
        } catch {
            throw ProjectionError(position: snapshot.position, message: "the snapshot is damaged: \(error)")
        }
    }

    /// The canonical bytes of a projection's state: tasks and run logs in id order.
    static func encodeState(_ projection: Projection) -> [UInt8] {
        var writer = BinaryWriter(capacity: 256 * projection.tasks.count)
        writer.write(projection.tasks.count)
        for id in projection.tasks.keys.sorted() {
            TaskStateCodec.encode(projection.tasks[id]!, to: &writer)
        }
        let tasksWithRuns = projection.runLog.tasks
        writer.write(tasksWithRuns.count)
        for task in tasksWithRuns {
            writer.write(task.rawValue)
            let records = projection.runLog.records(of: task)
            writer.write(records.count)
            for record in records { writeRecord(record, to: &writer) }
        }
        return writer.bytes
    }

    private static func writeRecord(_ record: RunRecord, to writer: inout BinaryWriter) {
        writer.write(record.occurrence.rawValue)
        writer.write(record.attempt)
        writer.write(record.scheduledAt)
        writer.write(record.dueAt)
        writer.write(record.startedAt)
        writer.write(record.finishedAt) { $0.write($1) }
        writer.write(UInt8(RunRecord.Outcome.allCases.firstIndex(of: record.outcome) ?? 0))
        writer.write(record.statusCode) { $0.write($1) }
        writer.write(record.duration) { $0.write($1) }
        writer.write(record.error) { $0.write($1) }
        writer.write(record.responseExcerpt) { $0.write($1) }
        writer.write(record.skipReason?.rawValue) { $0.write($1) }
    }

    private static func readRecord(_ reader: inout BinaryReader) throws(EventDecodingError) -> RunRecord {
        let occurrence = OccurrenceID(rawValue: try reader.readString())
        let attempt = try reader.readInt()
        var record = RunRecord(
            run: RunID(occurrence, attempt: attempt), occurrence: occurrence,
            scheduledAt: try reader.readInstant(), dueAt: try reader.readInstant(), startedAt: try reader.readInstant(),
            attempt: attempt, outcome: .running
        )
        record.finishedAt = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readInstant() }
        let outcome = Int(try reader.readByte())
        guard outcome < RunRecord.Outcome.allCases.count else { throw EventDecodingError(message: "unknown run outcome") }
        record.outcome = RunRecord.Outcome.allCases[outcome]
        record.statusCode = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readInt() }
        record.duration = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readDuration() }
        record.error = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() }
        record.responseExcerpt = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() }
        record.skipReason = try reader.readOptional { (reader) throws(EventDecodingError) in
            SkipReason(rawValue: try reader.readString())
        }
        return record
    }
}
