import Dispatch
public import Journal
import Scheduling
import Synchronization

/// Writes and reads projection snapshots: the tasks and run log at a journal position.
///
/// The format name carries every layout version the bytes depend on, so a snapshot written
/// by another layout is never trusted: the reader ignores it and replays from position 0.
///
/// Layout: a CRC32C of the state, then the state: the number of parts, each part's length in
/// bytes, then the parts, one per part of ``TaskTable`` (the run log is parted alike). A part
/// holds its task count, its run log's task and record counts, its tasks in id order and its
/// run records by task in id order. Parts are read in parallel, each straight into the
/// table's and the log's part, sized once.
public enum ProjectionSnapshot {
    /// The format name this build writes and accepts.
    public static let format = "projections/2+tasks/\(TaskStateCodec.version)+runs/4+parts/\(TaskTable.partCount)"

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
                let parts = try decodeParts(raw, runRetention: max(1, runRetention))
                return Projection(
                    tasks: parts.tasks, runLog: parts.runLog, position: snapshot.position, dueEntries: parts.dueEntries,
                    liveTasksByNamespace: parts.liveTasksByNamespace
                )
            }
        } catch {
            throw ProjectionError(position: snapshot.position, message: "the snapshot is damaged: \(error)")
        }
    }

    /// The canonical bytes of a projection's state: its parts in order, tasks and run logs in
    /// id order within each.
    static func encodeState(_ projection: Projection) -> [UInt8] {
        let parts = (0..<TaskTable.partCount).map { number in
            encodePart(tasks: projection.tasks.part(number), runs: projection.runLog.part(number))
        }
        var writer = BinaryWriter(capacity: parts.reduce(16 + 10 * parts.count) { $0 + $1.count })
        writer.write(parts.count)
        for part in parts { writer.write(part.count) }
        for part in parts { writer.append(part) }
        return writer.bytes
    }

    private static func encodePart(tasks: TaskTable.Part, runs: RunLog.Part) -> [UInt8] {
        var writer = BinaryWriter(capacity: 512 * tasks.count)
        let withRuns = runs.chains.map(\.task).sorted()
        writer.write(tasks.count)
        writer.write(withRuns.count)
        writer.write(runs.entries.count)
        for state in tasks.states.sorted(by: { $0.id < $1.id }) {
            TaskStateCodec.encode(state, to: &writer)
        }
        for task in withRuns {
            writer.write(task.rawValue)
            let entries = runs.entries(of: task)
            writer.write(entries.count)
            for entry in entries { writeEntry(entry, to: &writer) }
        }
        return writer.bytes
    }

    /// One part as read: its tasks and records, and what its tasks add to the due index and
    /// the namespace counts.
    private struct DecodedPart: Sendable {
        var tasks: TaskTable.Part
        var runs = RunLog.Part()
        var dueEntries: [DueEntry] = []
        var liveTasksByNamespace: [String: Int] = [:]
    }

    /// Reads every part, in parallel (one at a time per core).
    private static func decodeParts(
        _ raw: UnsafeRawBufferPointer, runRetention: Int
    ) throws(EventDecodingError) -> (tasks: TaskTable, runLog: RunLog, dueEntries: [DueEntry], liveTasksByNamespace: [String: Int]) {
        var reader = BinaryReader(raw)
        guard try reader.readInt() == TaskTable.partCount else { throw EventDecodingError(message: "wrong number of parts") }
        var ranges: [Range<Int>] = []
        var start = 0
        for _ in 0..<TaskTable.partCount {
            let length = try reader.readInt()
            guard length >= 0, length <= raw.count else { throw EventDecodingError(message: "part length out of range") }
            ranges.append(start..<(start + length))
            start += length
        }
        let body = reader.offset
        guard body + start == raw.count else { throw EventDecodingError(message: "parts do not fill the snapshot") }
        let results = Mutex([Result<DecodedPart, EventDecodingError>?](repeating: nil, count: ranges.count))
        // The bytes outlive every worker: `concurrentPerform` returns when all have finished.
        nonisolated(unsafe) let bytes = raw
        let partRanges = ranges
        DispatchQueue.concurrentPerform(iterations: partRanges.count) { number in
            let range = partRanges[number]
            let slice = UnsafeRawBufferPointer(rebasing: bytes[(body + range.lowerBound)..<(body + range.upperBound)])
            let result = Result { () throws(EventDecodingError) in try decodePart(slice, number: number, runRetention: runRetention) }
            results.withLock { $0[number] = result }
        }
        var taskParts: [TaskTable.Part] = []
        var runParts: [RunLog.Part] = []
        var dueEntries: [DueEntry] = []
        var liveTasksByNamespace: [String: Int] = [:]
        for result in results.withLock({ $0 }) {
            guard let part = try result?.get() else { throw EventDecodingError(message: "a part was not read") }
            taskParts.append(part.tasks)
            runParts.append(part.runs)
            dueEntries.append(contentsOf: part.dueEntries)
            liveTasksByNamespace.merge(part.liveTasksByNamespace, uniquingKeysWith: +)
        }
        return (TaskTable(parts: taskParts), RunLog(retention: runRetention, parts: runParts), dueEntries, liveTasksByNamespace)
    }

    private static func decodePart(
        _ raw: UnsafeRawBufferPointer, number: Int, runRetention: Int
    ) throws(EventDecodingError) -> DecodedPart {
        var reader = BinaryReader(raw)
        let taskCount = try reader.readInt()
        let chainCount = try reader.readInt()
        let recordCount = try reader.readInt()
        // Counts bound the room reserved: each task or record takes at least a byte.
        guard (0...raw.count).contains(taskCount), (0...raw.count).contains(chainCount), (0...raw.count).contains(recordCount) else {
            throw EventDecodingError(message: "part counts out of range")
        }
        var part = DecodedPart(tasks: TaskTable.Part(minimumCapacity: taskCount))
        for _ in 0..<taskCount {
            let state = try TaskStateCodec.decode(from: &reader)
            guard TaskTable.part(of: state.id) == number, part.tasks.slot(of: state.id) == nil else {
                throw EventDecodingError(message: "task \(state.id) is out of place")
            }
            Projection.derive(from: state, dueEntries: &part.dueEntries, liveTasksByNamespace: &part.liveTasksByNamespace)
            part.tasks.set(state, for: state.id)
        }
        part.runs.reserveCapacity(chains: chainCount, records: recordCount)
        for _ in 0..<chainCount {
            var task = TaskID(try reader.readString())
            guard TaskTable.part(of: task) == number, part.runs.chain(of: task) == nil else {
                throw EventDecodingError(message: "the runs of task \(task) are out of place")
            }
            // Keyed by the table's own string for the id, when the task is there.
            if let slot = part.tasks.slot(of: task) { task = part.tasks.states[slot].id }
            let count = try reader.readInt()
            guard (0...raw.count).contains(count) else { throw EventDecodingError(message: "record count out of range") }
            var entries: [RunLog.Kept] = []
            entries.reserveCapacity(count)
            for _ in 0..<count { entries.append(try readEntry(&reader)) }
            part.runs.setRecords(entries.suffix(runRetention), of: task)
        }
        guard reader.isAtEnd else { throw EventDecodingError(message: "trailing bytes in part \(number)") }
        return part
    }

    /// Which of a record's optional fields are present, in one byte.
    private enum Present {
        static let occurrence: UInt8 = 1
        static let finished: UInt8 = 2
        static let duration: UInt8 = 4
        static let status: UInt8 = 8
        static let detail: UInt8 = 16
    }

    /// One run record: a byte of which optional fields follow, the outcome, the attempt, the
    /// scheduled instant, then the due, start and finish instants each as the step from the
    /// one before (small numbers, a byte or three each), then the optional fields.
    private static func writeEntry(_ kept: RunLog.Kept, to writer: inout BinaryWriter) {
        let entry = kept.entry
        var present: UInt8 = 0
        if kept.occurrence != nil { present |= Present.occurrence }
        if entry.finishedAt != .min { present |= Present.finished }
        if entry.duration != .min { present |= Present.duration }
        if entry.statusCode != .min { present |= Present.status }
        if entry.detail != 0 { present |= Present.detail }
        writer.write(present)
        writer.write(UInt8(RunRecord.Outcome.allCases.firstIndex(of: entry.outcome) ?? 0))
        writer.write(Int(entry.attempt))
        writer.write(entry.scheduledAt)
        writer.write(entry.dueAt &- entry.scheduledAt)
        writer.write(entry.startedAt &- entry.dueAt)
        if entry.finishedAt != .min { writer.write(entry.finishedAt &- entry.startedAt) }
        if entry.duration != .min { writer.write(entry.duration) }
        if entry.statusCode != .min { writer.write(Int(entry.statusCode)) }
        if let occurrence = kept.occurrence { writer.write(occurrence) }
        if entry.detail != 0 { writer.write(entry.detail) }
    }

    private static func readEntry(_ reader: inout BinaryReader) throws(EventDecodingError) -> RunLog.Kept {
        let present = try reader.readByte()
        let outcome = Int(try reader.readByte())
        guard outcome < RunRecord.Outcome.allCases.count else { throw EventDecodingError(message: "unknown run outcome") }
        guard let attempt = Int32(exactly: try reader.readInt()) else { throw EventDecodingError(message: "attempt out of range") }
        let scheduledAt = try reader.readInt64()
        let dueAt = scheduledAt &+ (try reader.readInt64())
        let startedAt = dueAt &+ (try reader.readInt64())
        let finishedAt = present & Present.finished != 0 ? startedAt &+ (try reader.readInt64()) : .min
        let duration = present & Present.duration != 0 ? try reader.readInt64() : .min
        var statusCode = Int32.min
        if present & Present.status != 0 {
            guard let status = Int32(exactly: try reader.readInt()), status != .min else {
                throw EventDecodingError(message: "status code out of range")
            }
            statusCode = status
        }
        let occurrence = present & Present.occurrence != 0 ? try reader.readString() : nil
        let entry = RunLog.Entry(
            detail: present & Present.detail != 0 ? try reader.readUInt64() : 0,
            scheduledAt: scheduledAt, dueAt: dueAt, startedAt: startedAt, finishedAt: finishedAt, duration: duration,
            attempt: attempt, statusCode: statusCode, outcome: RunRecord.Outcome.allCases[outcome]
        )
        return RunLog.Kept(entry: entry, occurrence: occurrence)
    }
}
