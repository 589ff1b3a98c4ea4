public import Journal
public import Scheduling

/// The state every reader of Almanac works from — tasks, recent runs, and the due index —
/// as a pure fold of the journal's events in position order.
///
/// Invariant (tested): the state built live, event by event, equals the state rebuilt by
/// replaying the journal from position 0, and equals a snapshot at N plus the tail after N.
public struct Projection: Sendable {
    /// Every task ever created, deleted ones included.
    public private(set) var tasks = TaskTable()
    /// Recent runs of each task.
    public private(set) var runLog: RunLog
    /// The attempts that will fall due.
    public private(set) var dueIndex = DueIndex()
    /// The position of the last event applied (0 before any).
    public private(set) var position: UInt64 = 0
    /// Events whose stream version did not follow the task's version (0 for a sound journal).
    public private(set) var inconsistencies = 0
    /// How many tasks not deleted each namespace holds (for its task limit).
    public private(set) var liveTasksByNamespace: [String: Int] = [:]
    /// Whether the due index is left out while events are applied, to be built once from
    /// the tasks at the end (a replay from position 0: see ``deferDueIndex()``).
    public private(set) var dueIndexDeferred = false

    /// Creates an empty projection.
    public init(runRetention: Int = 20) {
        runLog = RunLog(retention: runRetention)
    }

    /// Applies a journal record: decodes it and folds it in.
    public mutating func apply(_ recorded: RecordedEvent) throws(ProjectionError) {
        guard recorded.position > position else {
            throw ProjectionError(position: recorded.position, message: "event applied out of order (after \(position))")
        }
        // Reserved streams (access control) hold no task; their readers fold them apart.
        if recorded.streamID.isReserved {
            position = recorded.position
            return
        }
        let event: TaskEvent
        do {
            event = try EventCodec.decode(
                type: recorded.type,
                schemaVersion: recorded.schemaVersion,
                payload: recorded.payload,
                taskID: TaskID(recorded.streamID.rawValue),
                at: Instant(microsecondsSinceEpoch: recorded.recordedAt)
            )
        } catch {
            throw ProjectionError(position: recorded.position, message: "cannot decode \(recorded.type): \(error)")
        }
        apply(event, position: recorded.position, streamVersion: recorded.streamVersion)
    }

    /// Folds in a decoded event recorded at `position` as version `streamVersion` of its task.
    public mutating func apply(_ event: TaskEvent, position: UInt64, streamVersion: UInt64) {
        let id = event.taskID
        let version: UInt64?
        // The id as the table holds it: the run log keys its records by the same string, not
        // by each event's own copy (an id over 15 bytes is a heap allocation of its own).
        var tableID = id
        if let index = tasks.index(forKey: id) {
            tableID = tasks[index].id
            // One lookup, and the state is changed in place through one `inout` access: reading
            // `tasks[id]` again and again would copy the whole state (twenty-odd
            // reference-counted fields) at every read.
            let change = Self.fold(event, into: &tasks[index], trackingDue: !dueIndexDeferred)
            if let namespace = change.deletedFrom { liveTasksByNamespace[namespace, default: 1] -= 1 }
            if !dueIndexDeferred, change.before != change.after { dueIndex.update(before: change.before, after: change.after) }
            version = change.version
        } else if let created = TaskState.evolve(nil, event) {
            if !dueIndexDeferred {
                let after = DueEntry.entries(of: created)
                if !after.isEmpty { dueIndex.update(before: [], after: after) }
            }
            version = created.version
            liveTasksByNamespace[created.definition.namespace, default: 0] += 1
            tasks[id] = created
        } else {
            version = nil
        }
        if let version, version != streamVersion { inconsistencies += 1 }
        runLog.apply(event, task: tableID)
        self.position = position
        if !dueIndexDeferred, dueIndex.needsCompaction {
            let tasks = self.tasks
            dueIndex.compact { $0.isCurrent(in: tasks) }
        }
    }

    /// What folding one event into a task changed.
    private struct Change {
        var before: [DueEntry] = []
        var after: [DueEntry] = []
        var version: UInt64 = 0
        /// The namespace of a task this event deleted.
        var deletedFrom: String?
    }

    /// Applies `event` to `state` in place; reads the due entries before and after only for
    /// the events that can change them (an attempt's outcome cannot: a retry or the next
    /// occurrence is an event of its own).
    private static func fold(_ event: TaskEvent, into state: inout TaskState, trackingDue: Bool) -> Change {
        var change = Change()
        let movesDueEntries: Bool
        switch event.kind {
        case .runSucceeded, .runFailed: movesDueEntries = false
        default: movesDueEntries = trackingDue
        }
        if movesDueEntries { change.before = DueEntry.entries(of: state) }
        let wasDeleted = state.status == .deleted
        state.apply(event)
        if !wasDeleted, state.status == .deleted { change.deletedFrom = state.definition.namespace }
        if movesDueEntries { change.after = DueEntry.entries(of: state) }
        change.version = state.version
        return change
    }

    /// Leaves the due index out while events are applied, until ``rebuildDueIndex()``: a
    /// replay from position 0 then builds it once from the final tasks instead of keeping it
    /// up to date through every event (a third of the fold's time). Every reader of the
    /// index rebuilds it first.
    public mutating func deferDueIndex() {
        guard !dueIndexDeferred else { return }
        dueIndexDeferred = true
        dueIndex = DueIndex(shardCount: dueIndex.shardCount)
    }

    /// Builds the due index from the tasks, after ``deferDueIndex()``.
    public mutating func rebuildDueIndex() {
        guard dueIndexDeferred else { return }
        dueIndexDeferred = false
        dueIndex = DueIndex(tasks: tasks.values, shardCount: dueIndex.shardCount)
    }

    /// The earliest attempt due in `shards` (nil: in any shard), if any.
    public mutating func nextDue(in shards: ShardSet? = nil) -> DueEntry? {
        rebuildDueIndex()
        let tasks = self.tasks
        return dueIndex.first(in: shards) { $0.isCurrent(in: tasks) }
    }

    /// Every attempt of `shards` (nil: of every shard) due at or before `now`, earliest
    /// first, at most `limit`. With `reserving`, they are set aside until
    /// ``releaseReservedDue()``: later calls leave them out (their decisions are on their way
    /// to the journal but not applied yet).
    public mutating func due(
        at now: Instant, limit: Int = .max, in shards: ShardSet? = nil, reserving: Bool = false
    ) -> [DueEntry] {
        rebuildDueIndex()
        let tasks = self.tasks
        return dueIndex.due(at: now, limit: limit, in: shards, reserving: reserving) { $0.isCurrent(in: tasks) }
    }

    /// Puts the attempts set aside by ``due(at:limit:in:reserving:)`` back into the due index
    /// where they are still due (not claimed or skipped meanwhile).
    public mutating func releaseReservedDue() {
        guard !dueIndex.reserved.isEmpty else { return }
        let tasks = self.tasks
        dueIndex.releaseReserved { $0.isCurrent(in: tasks) }
    }

    /// Rebuilds the due index split into `shardCount` shards (a cluster node claims only in
    /// the shards it owns); events applied later keep the split.
    public mutating func partitionDueIndex(into shardCount: Int) {
        rebuildDueIndex()
        guard shardCount != dueIndex.shardCount else { return }
        dueIndex = DueIndex(tasks: tasks.values, shardCount: shardCount)
    }

    /// A stable digest of the whole state (tasks and run log), equal for equal states in any
    /// process: FNV-1a over the snapshot encoding, as 16 hex digits.
    public var digest: String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in ProjectionSnapshot.encodeState(self) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Rebuilds a projection from its parts (snapshot loading): `dueEntries` are every due
    /// entry of the tasks, and `liveTasksByNamespace` counts their tasks not deleted.
    init(
        tasks: TaskTable, runLog: RunLog, position: UInt64, dueEntries: [DueEntry], liveTasksByNamespace: [String: Int]
    ) {
        self.tasks = tasks
        self.runLog = runLog
        self.position = position
        self.dueIndex = DueIndex(entries: dueEntries)
        self.liveTasksByNamespace = liveTasksByNamespace
    }

    /// What a task adds to the derived parts of a projection: its due entries, and its
    /// namespace's count while it is not deleted.
    static func derive(from state: TaskState, dueEntries: inout [DueEntry], liveTasksByNamespace: inout [String: Int]) {
        dueEntries.append(contentsOf: DueEntry.entries(of: state))
        if state.status != .deleted { liveTasksByNamespace[state.definition.namespace, default: 0] += 1 }
    }
}

extension Projection: Equatable {
    /// Projections are equal when their tasks, run logs and positions are; the due index is
    /// derived from the tasks.
    public static func == (lhs: Projection, rhs: Projection) -> Bool {
        lhs.position == rhs.position && lhs.tasks == rhs.tasks && lhs.runLog == rhs.runLog
    }
}

/// A journal record that cannot be folded into the projection.
public struct ProjectionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The record's position.
    public let position: UInt64
    /// What is wrong.
    public let message: String

    public init(position: UInt64, message: String) {
        self.position = position
        self.message = message
    }

    public var description: String { "position \(position): \(message)" }
}
