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
        try snapshot.bytes.withUnsafeBytes { bytes in
            Result { () throws(ProjectionError) in
                try load(BorrowedSnapshot(position: snapshot.position, format: snapshot.format, chunks: [bytes]), runRetention: runRetention)
            }
        }.get()
    }

    /// The projection a snapshot lent in place holds, or nil when its format is not this
    /// build's. Parts are read where they lie when one chunk holds them, else each worker
    /// copies its part into one buffer it reuses.
    public static func load(_ snapshot: BorrowedSnapshot, runRetention: Int = 20) throws(ProjectionError) -> Projection? {
        guard snapshot.format == format else { return nil }
        let bytes = ChunkedBytes(snapshot.chunks)
        do {
            guard bytes.count >= 4 else { throw EventDecodingError(message: "too short") }
            var scratch: [UInt8] = []
            let stored = bytes.withBytes(in: 0..<4, scratch: &scratch) { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) }
            guard bytes.checksum(from: 4) == stored else { throw EventDecodingError(message: "checksum mismatch") }
            let parts = try decodeParts(bytes, from: 4, runRetention: max(1, runRetention))
            return Projection(
                tasks: parts.tasks, runLog: parts.runLog, position: snapshot.position, dueEntries: parts.dueEntries,
                liveTasksByNamespace: parts.liveTasksByNamespace
            )
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

    /// Reads every part, in parallel: one worker per core, each taking every part whose
    /// number leaves its remainder.
    private static func decodeParts(
        _ bytes: ChunkedBytes, from start: Int, runRetention: Int
    ) throws(EventDecodingError) -> (tasks: TaskTable, runLog: RunLog, dueEntries: [DueEntry], liveTasksByNamespace: [String: Int]) {
        var scratch: [UInt8] = []
        let (ranges, body) = try bytes.withBytes(in: start..<min(bytes.count, start + 16 + 10 * TaskTable.partCount), scratch: &scratch) {
            header throws(EventDecodingError) in
            var reader = BinaryReader(header)
            guard try reader.readInt() == TaskTable.partCount else { throw EventDecodingError(message: "wrong number of parts") }
            var ranges: [Range<Int>] = []
            var end = 0
            for _ in 0..<TaskTable.partCount {
                let length = try reader.readInt()
                guard length >= 0, length <= bytes.count else { throw EventDecodingError(message: "part length out of range") }
                ranges.append(end..<(end + length))
                end += length
            }
            return (ranges, start + reader.offset)
        }
        guard body + (ranges.last?.upperBound ?? 0) == bytes.count else {
            throw EventDecodingError(message: "parts do not fill the snapshot")
        }
        let results = Mutex([Result<DecodedPart, EventDecodingError>?](repeating: nil, count: ranges.count))
        let workers = min(Replay.workers, ranges.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var scratch: [UInt8] = []
            for number in stride(from: worker, to: ranges.count, by: workers) {
                let range = ranges[number]
                let result = bytes.withBytes(in: (body + range.lowerBound)..<(body + range.upperBound), scratch: &scratch) { part in
                    Result { () throws(EventDecodingError) in try decodePart(part, number: number, runRetention: runRetention) }
                }
                results.withLock { $0[number] = result }
            }
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

/// Bytes kept in chunks (a snapshot as LMDB stores it), read by offset from the first.
struct ChunkedBytes: @unchecked Sendable {
    // Sendable: the bytes are only read, and outlive every reader (see its users).
    private let chunks: [UnsafeRawBufferPointer]
    /// The offset of each chunk's first byte.
    private let starts: [Int]
    /// The number of bytes.
    let count: Int

    init(_ chunks: [UnsafeRawBufferPointer]) {
        self.chunks = chunks.filter { !$0.isEmpty }
        var starts: [Int] = []
        var offset = 0
        for chunk in self.chunks {
            starts.append(offset)
            offset += chunk.count
        }
        self.starts = starts
        count = offset
    }

    /// Lends the bytes in `range`: in place when one chunk holds them all, else copied into
    /// `scratch` (kept for the next call, so a reader copying part after part reuses it).
    func withBytes<Value, Failure: Error>(
        in range: Range<Int>, scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) throws(Failure) -> Value
    ) throws(Failure) -> Value {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "bytes \(range) out of \(count)")
        guard !range.isEmpty else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        var chunk = self.chunk(holding: range.lowerBound)
        let offset = range.lowerBound - starts[chunk]
        if offset + range.count <= chunks[chunk].count {
            return try body(UnsafeRawBufferPointer(rebasing: chunks[chunk][offset..<(offset + range.count)]))
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.reserveCapacity(range.count)
        var position = range.lowerBound
        while position < range.upperBound {
            let from = position - starts[chunk]
            let taken = min(chunks[chunk].count - from, range.upperBound - position)
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunks[chunk][from..<(from + taken)]))
            position += taken
            chunk += 1
        }
        return try scratch.withUnsafeBytes { bytes in Result { () throws(Failure) in try body(bytes) } }.get()
    }

    /// CRC32C of the bytes from `offset` to the end.
    func checksum(from offset: Int) -> UInt32 {
        var crc: UInt32 = 0
        for (chunk, start) in zip(chunks, starts) where start + chunk.count > offset {
            crc = CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: chunk[max(0, offset - start)...]))
        }
        return crc
    }

    /// The chunk holding byte `offset`.
    private func chunk(holding offset: Int) -> Int {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }
}
