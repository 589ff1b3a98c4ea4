public import Journal
import Scheduling

/// Writes and reads projection snapshots: the tasks and run log at a journal position.
///
/// The format name carries every layout version the bytes depend on, so a snapshot written
/// by another layout is never trusted: the reader ignores it and replays from position 0.
public enum ProjectionSnapshot {
    /// The format name this build writes and accepts.
    public static let format = "projections/1+tasks/\(TaskStateCodec.version)+runs/2"

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
                    var entries: [RunLog.Entry] = []
                    for _ in 0..<max(0, try reader.readInt()) { entries.append(try readEntry(&reader)) }
                    runLog.set(entries, for: task)
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
            let entries = projection.runLog.entries(of: task)
            writer.write(entries.count)
            for entry in entries { writeEntry(entry, to: &writer) }
        }
        return writer.bytes
    }

    /// One run record: the occurrence's text only when it is not derived (a manual
    /// trigger's), then numbers, with `Int64.min` / `Int32.min` for "none" as the log keeps them.
    private static func writeEntry(_ entry: RunLog.Entry, to writer: inout BinaryWriter) {
        writer.write(entry.occurrence) { $0.write($1) }
        writer.write(Int(entry.attempt))
        writer.write(entry.scheduledAt)
        writer.write(entry.dueAt)
        writer.write(entry.startedAt)
        writer.write(entry.finishedAt)
        writer.write(entry.duration)
        writer.write(Int(entry.statusCode))
        writer.write(UInt8(RunRecord.Outcome.allCases.firstIndex(of: entry.outcome) ?? 0))
        writer.write(entry.text) { $0.write($1) }
        writer.write(entry.excerpt) { $0.write($1) }
    }

    private static func readEntry(_ reader: inout BinaryReader) throws(EventDecodingError) -> RunLog.Entry {
        let occurrence = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() }
        let attempt = try reader.readInt()
        let scheduledAt = try reader.readInt64()
        let dueAt = try reader.readInt64()
        let startedAt = try reader.readInt64()
        let finishedAt = try reader.readInt64()
        let duration = try reader.readInt64()
        let statusCode = try reader.readInt()
        let outcome = Int(try reader.readByte())
        guard outcome < RunRecord.Outcome.allCases.count else { throw EventDecodingError(message: "unknown run outcome") }
        guard let attempt32 = Int32(exactly: attempt), let status32 = Int32(exactly: statusCode) else {
            throw EventDecodingError(message: "run record number out of range")
        }
        return RunLog.Entry(
            occurrence: occurrence,
            text: try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() },
            excerpt: try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() },
            scheduledAt: scheduledAt, dueAt: dueAt, startedAt: startedAt, finishedAt: finishedAt, duration: duration,
            attempt: attempt32, statusCode: status32, outcome: RunRecord.Outcome.allCases[outcome]
        )
    }
}
