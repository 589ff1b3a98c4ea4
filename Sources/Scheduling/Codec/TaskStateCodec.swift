/// The binary form of a ``TaskState`` inside projection snapshots.
///
/// Deterministic: dictionaries are written in key order, so equal states encode to equal
/// bytes and a digest of the bytes is a digest of the state.
public enum TaskStateCodec {
    /// The layout version of this encoding; a snapshot of another version is not trusted.
    public static let version: UInt16 = 5

    /// Appends the state to `writer`.
    public static func encode(_ state: TaskState, to writer: inout BinaryWriter) {
        writer.write(state.id.rawValue)
        EventCodec.writeDefinition(state.definition, to: &writer)
        writer.write(UInt8(TaskStatus.allCases.firstIndex(of: state.status) ?? 0))
        writer.write(state.version)
        writer.write(state.createdAt)
        writer.write(state.updatedAt)
        writer.write(state.nextDueAt) { $0.write($1) }
        writer.write(state.inFlight.count)
        for run in state.inFlight.keys.sorted() {
            EventCodec.writeRunStart(state.inFlight[run]!, to: &writer)
        }
        writer.write(state.pending.count)
        for occurrence in state.pending.keys.sorted() {
            let pending = state.pending[occurrence]!
            writer.write(occurrence.rawValue)
            writer.write(pending.scheduledAt)
            writer.write(pending.attempt)
            writer.write(pending.dueAt)
            writer.write(pending.kind == .manual)
        }
        writer.write(state.counts.runs)
        writer.write(state.counts.succeeded)
        writer.write(state.counts.failed)
        writer.write(state.counts.skipped)
        // The last run as it is kept: no id text unless it is not derived (see `LastRun`).
        writer.write(state.lastRun) { writer, last in
            writer.write(UInt8(LastRun.Result.allCases.firstIndex(of: last.result) ?? 0))
            writer.write(Int(last.attempt))
            writer.write(last.scheduledAt)
            writer.write(last.text) { $0.write($1) }
            writer.write(last.at)
            writer.write(Int(last.status))
        }
        writer.write(state.usedTriggers.count)
        for trigger in state.usedTriggers.sorted() { writer.write(trigger) }
    }

    /// Reads a state written by ``encode(_:to:)``.
    public static func decode(from reader: inout BinaryReader) throws(EventDecodingError) -> TaskState {
        let id = TaskID(try reader.readString())
        let definition = try EventCodec.readDefinition(&reader)
        let statusIndex = Int(try reader.readByte())
        guard statusIndex < TaskStatus.allCases.count else { throw .malformed("task status \(statusIndex) is unknown") }
        let version = try reader.readUInt64()
        let createdAt = try reader.readInstant()
        var state = TaskState(id: id, definition: definition, createdAt: createdAt, nextDueAt: nil)
        state.status = TaskStatus.allCases[statusIndex]
        state.version = version
        state.updatedAt = try reader.readInstant()
        state.nextDueAt = try EventCodec.readOptionalInstant(&reader)
        for _ in 0..<max(0, try reader.readInt()) {
            let start = try EventCodec.readRunStart(&reader)
            state.inFlight[start.run] = start
        }
        for _ in 0..<max(0, try reader.readInt()) {
            let occurrence = OccurrenceID(rawValue: try reader.readString())
            state.pending[occurrence] = PendingAttempt(
                occurrence: occurrence,
                scheduledAt: try reader.readInstant(),
                attempt: try reader.readInt(),
                dueAt: try reader.readInstant(),
                kind: try reader.readBool() ? .manual : .scheduled
            )
        }
        state.counts = RunCounts(
            runs: try reader.readInt(), succeeded: try reader.readInt(),
            failed: try reader.readInt(), skipped: try reader.readInt()
        )
        state.lastRun = try reader.readOptional { (reader) throws(EventDecodingError) in
            let result = Int(try reader.readByte())
            guard result < LastRun.Result.allCases.count else { throw .malformed("unknown last-run result") }
            guard let attempt = Int32(exactly: try reader.readInt()), attempt >= -1 else { throw .malformed("last-run attempt out of range") }
            let scheduledAt = try reader.readInt64()
            let text = try reader.readOptional { (reader) throws(EventDecodingError) in try reader.readString() }
            guard attempt >= 0 || text != nil else { throw .malformed("last run without its id") }
            let at = try reader.readInstant()
            guard let status = Int32(exactly: try reader.readInt()) else { throw .malformed("last-run status out of range") }
            return LastRun(
                text: text, scheduledAt: scheduledAt, attempt: attempt, result: LastRun.Result.allCases[result], at: at, status: status
            )
        }
        for _ in 0..<max(0, try reader.readInt()) { state.usedTriggers.insert(try reader.readString()) }
        return state
    }
}
