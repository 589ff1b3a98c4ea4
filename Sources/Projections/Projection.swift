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
        let event = try Self.decode(recorded, taskID: TaskID(recorded.streamID.rawValue))
        apply(event, position: recorded.position, streamVersion: recorded.streamVersion)
    }

    /// Folds in a decoded event recorded at `position` as version `streamVersion` of its task.
    public mutating func apply(_ event: TaskEvent, position: UInt64, streamVersion: UInt64) {
        let hash = Shards.rank(of: event.taskID)
        let part = TaskTable.part(hash: hash)
        let change = Self.fold(
            event, position: position, streamVersion: streamVersion, hash: hash,
            slot: tasks[part: part].slot(of: event.taskID, hash: hash), table: &tasks[part: part], log: &runLog[part: part],
            keeping: runLog.keeping, trackingDue: !dueIndexDeferred
        )
        if change.inconsistent { inconsistencies += 1 }
        if let namespace = change.namespace { liveTasksByNamespace[namespace, default: 0] += change.namespaceDelta }
        if !dueIndexDeferred, change.before != change.after { dueIndex.update(before: change.before, after: change.after) }
        self.position = position
        if !dueIndexDeferred, dueIndex.needsCompaction {
            let tasks = self.tasks
            dueIndex.compact { $0.isCurrent(in: tasks) }
        }
    }

    /// Decodes a task stream's journal record as `taskID`'s event.
    static func decode(_ recorded: RecordedEvent, taskID: TaskID) throws(ProjectionError) -> TaskEvent {
        do {
            return try EventCodec.decode(
                type: recorded.type,
                schemaVersion: recorded.schemaVersion,
                payload: recorded.payload,
                taskID: taskID,
                at: Instant(microsecondsSinceEpoch: recorded.recordedAt)
            )
        } catch {
            throw ProjectionError(position: recorded.position, message: "cannot decode \(recorded.type): \(error)")
        }
    }

    /// Takes the parts of the task table and the run log out, leaving both empty (for a
    /// ``ParallelFold``).
    mutating func takeParts() -> (tables: [TaskTable.Part], logs: [RunLog.Part]) {
        (tasks.takeParts(), runLog.takeParts())
    }

    /// Puts back parts taken by ``takeParts()`` after events up to `position` were folded
    /// into them, with the totals of that fold.
    mutating func restoreParts(
        tables: [TaskTable.Part], logs: [RunLog.Part], position: UInt64,
        namespaceDeltas: [String: Int], inconsistencies: Int
    ) {
        tasks = TaskTable(parts: tables)
        runLog = RunLog(retention: runLog.retention, parts: logs)
        self.position = position
        liveTasksByNamespace.merge(namespaceDeltas, uniquingKeysWith: +)
        self.inconsistencies += inconsistencies
    }

    /// Brings the due index up to date with tasks changed apart from it (a ``ParallelFold``):
    /// `before` holds each changed task's due entries before its changes.
    mutating func updateDueIndex(before: [TaskID: [DueEntry]]) {
        guard !dueIndexDeferred else { return }
        for (task, entries) in before {
            let after = tasks.index(forKey: task).map { DueEntry.entries(of: tasks[$0]) } ?? []
            if after != entries { dueIndex.update(before: entries, after: after) }
        }
        if dueIndex.needsCompaction {
            let tasks = self.tasks
            dueIndex.compact { $0.isCurrent(in: tasks) }
        }
    }

    /// What folding one event changed beyond its task's part of the table and the run log.
    struct Change {
        /// The task's due entries before and after (left empty when not tracked).
        var before: [DueEntry] = []
        var after: [DueEntry] = []
        /// Whether the event's stream version did not follow the task's version.
        var inconsistent = false
        /// The namespace whose count of tasks not deleted changed, and by how much.
        var namespace: String?
        var namespaceDelta = 0
    }

    /// Folds `event` into the part of the table and the part of the run log that hold its
    /// task (`TaskTable.part(of:)`): all a task event changes but the projection's totals,
    /// which the ``Change`` returned carries. Events of tasks in different parts touch
    /// nothing in common, so a replay can fold the parts on several cores (``Replay``).
    /// `hash` is the task's ``Shards/rank(of:)``, and `slot` its state's slot in `table`
    /// (nil: the table does not hold it yet).
    static func fold(
        _ event: TaskEvent, position: UInt64, streamVersion: UInt64, hash: UInt64, slot: Int?,
        table: inout TaskTable.Part, log: inout RunLog.Part, keeping retention: Int32, trackingDue: Bool
    ) -> Change {
        var change = Change()
        // The id as the table holds it: the run log keys its records by the same string, not
        // by each event's own copy (an id over 15 bytes is a heap allocation of its own).
        var tableID = event.taskID
        let version: UInt64?
        if let slot {
            tableID = table.states[slot].id
            // The state is changed in place through one `inout` access: reading it again and
            // again would copy the whole state (twenty-odd reference-counted fields) each time.
            version = fold(event, into: &table.states[slot], trackingDue: trackingDue, change: &change)
        } else if let created = TaskState.evolve(nil, event) {
            if trackingDue { change.after = DueEntry.entries(of: created) }
            version = created.version
            change.namespace = created.definition.namespace
            change.namespaceDelta = 1
            table.insert(created, hash: hash)
        } else {
            version = nil
        }
        if let version, version != streamVersion { change.inconsistent = true }
        log.apply(event, task: tableID, hash: hash, position: position, keeping: retention)
        return change
    }

    /// ``fold(_:position:streamVersion:hash:slot:table:log:keeping:trackingDue:)`` for a
    /// run's end read in place (``StoredRunEnd``), of the task in `slot`; nil, with nothing
    /// changed, when that run is not in flight (the event is then decoded and folded the
    /// usual way). A run's end moves no due entry and no namespace count.
    static func foldRunEnd(
        _ end: StoredRunEnd, at instant: Instant, position: UInt64, streamVersion: UInt64, hash: UInt64, slot: Int,
        table: inout TaskTable.Part, log: inout RunLog.Part
    ) -> Change? {
        guard let run = table.states[slot].endRun(end, at: instant) else { return nil }
        var change = Change()
        change.inconsistent = table.states[slot].version != streamVersion
        log.finish(run, of: table.states[slot].id, hash: hash, end: end, at: instant, position: position)
        return change
    }

    /// Applies `event` to `state` in place and returns its new version; reads the due entries
    /// before and after only for the events that can change them (an attempt's outcome
    /// cannot: a retry or the next occurrence is an event of its own).
    private static func fold(
        _ event: TaskEvent, into state: inout TaskState, trackingDue: Bool, change: inout Change
    ) -> UInt64 {
        let movesDueEntries: Bool
        switch event.kind {
        case .runSucceeded, .runFailed: movesDueEntries = false
        default: movesDueEntries = trackingDue
        }
        if movesDueEntries { change.before = DueEntry.entries(of: state) }
        let wasDeleted = state.status == .deleted
        state.apply(event)
        if !wasDeleted, state.status == .deleted {
            change.namespace = state.definition.namespace
            change.namespaceDelta = -1
        }
        if movesDueEntries { change.after = DueEntry.entries(of: state) }
        return state.version
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

    /// Builds the due index from the tasks, after ``deferDueIndex()`` (their entries gathered
    /// on every core, each state read in place).
    public mutating func rebuildDueIndex() {
        guard dueIndexDeferred else { return }
        dueIndexDeferred = false
        dueIndex = DueIndex(entries: tasks.concurrentGather(count: DueEntry.count(of:), DueEntry.forEach(of:_:)), shardCount: dueIndex.shardCount)
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
        dueIndex = DueIndex(entries: tasks.concurrentGather(count: DueEntry.count(of:), DueEntry.forEach(of:_:)), shardCount: shardCount)
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
