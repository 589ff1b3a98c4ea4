public import Scheduling

/// One attempt of a task that will fall due: the due index's element, ordered by due
/// instant, then task, then attempt and occurrence.
public struct DueEntry: Sendable, Hashable, Comparable {
    /// When it is due.
    public let dueAt: Instant
    /// The task.
    public let taskID: TaskID
    /// The occurrence; nil for the task's next scheduled occurrence (derived from `dueAt`).
    let pendingOccurrence: OccurrenceID?
    /// The attempt number.
    public let attempt: Int
    /// A stable hash of the task id (FNV-1a), compared before the id itself: many entries can
    /// fall due at one instant (a burst), and comparing two numbers is much cheaper than
    /// comparing two strings, at every step of every heap operation.
    let rank: UInt64

    /// The occurrence the entry is for.
    public var occurrence: OccurrenceID {
        pendingOccurrence ?? .scheduled(taskID, at: dueAt)
    }

    init(dueAt: Instant, taskID: TaskID, pendingOccurrence: OccurrenceID?, attempt: Int) {
        self.dueAt = dueAt
        self.taskID = taskID
        self.pendingOccurrence = pendingOccurrence
        self.attempt = attempt
        rank = Shards.rank(of: taskID)
    }

    /// An entry whose task id's ``Shards/rank(of:)`` is `rank`.
    private init(dueAt: Instant, taskID: TaskID, pendingOccurrence: OccurrenceID?, attempt: Int, rank: UInt64) {
        self.dueAt = dueAt
        self.taskID = taskID
        self.pendingOccurrence = pendingOccurrence
        self.attempt = attempt
        self.rank = rank
    }

    /// Ordered by due instant, then by the task (its rank, then its id), attempt and occurrence.
    public static func < (lhs: DueEntry, rhs: DueEntry) -> Bool {
        if lhs.dueAt != rhs.dueAt { return lhs.dueAt < rhs.dueAt }
        if lhs.rank != rhs.rank { return lhs.rank < rhs.rank }
        if lhs.taskID != rhs.taskID { return lhs.taskID < rhs.taskID }
        if lhs.attempt != rhs.attempt { return lhs.attempt < rhs.attempt }
        return (lhs.pendingOccurrence?.rawValue ?? "") < (rhs.pendingOccurrence?.rawValue ?? "")
    }

    /// The entries a task in `state` has: its next scheduled occurrence while active, and
    /// its pending retries and triggers (manual ones also while paused).
    static func entries(of state: borrowing TaskState) -> [DueEntry] {
        var entries: [DueEntry] = []
        forEach(of: state) { entries.append($0) }
        return entries
    }

    /// How many entries ``entries(of:)`` gives.
    static func count(of state: borrowing TaskState) -> Int {
        switch state.status {
        case .active: (state.nextDueAt == nil ? 0 : 1) + state.pending.count
        case .paused: state.pending.values.reduce(0) { $0 + ($1.kind == .manual ? 1 : 0) }
        case .completed, .deleted: 0
        }
    }

    /// Calls `body` with each of ``entries(of:)`` (no array made for them alone).
    @inline(__always)
    static func forEach(of state: borrowing TaskState, _ body: (DueEntry) -> Void) {
        guard state.status == .active || state.status == .paused else { return }
        let id = state.id
        // The id's hash, computed once for all of the task's entries.
        var rank: UInt64?
        if state.status == .active, let next = state.nextDueAt {
            let hash = Shards.rank(of: id)
            rank = hash
            body(DueEntry(dueAt: next, taskID: id, pendingOccurrence: nil, attempt: 1, rank: hash))
        }
        for pending in state.pending.values where state.status == .active || pending.kind == .manual {
            let hash = rank ?? Shards.rank(of: id)
            rank = hash
            body(DueEntry(dueAt: pending.dueAt, taskID: id, pendingOccurrence: pending.occurrence, attempt: pending.attempt, rank: hash))
        }
    }

    /// Whether the entry is still one of its task's entries in `tasks`.
    ///
    /// It reads the task's fields in place: handing `tasks[id]` to a function copies the whole
    /// state (every reference-counted field retained and released), and the due index asks
    /// this for every entry it looks at.
    @inline(__always)
    func isCurrent(in tasks: TaskTable) -> Bool {
        guard let index = tasks.index(forKey: taskID) else { return false }
        let status = tasks[index].status
        if let occurrence = pendingOccurrence {
            guard let pending = tasks[index].pending[occurrence], pending.dueAt == dueAt, pending.attempt == attempt else {
                return false
            }
            return status == .active || (status == .paused && pending.kind == .manual)
        }
        return status == .active && tasks[index].nextDueAt == dueAt && attempt == 1
    }
}
