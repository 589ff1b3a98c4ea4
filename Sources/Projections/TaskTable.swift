public import Scheduling

/// Every task's state by id: a hash table in 64 parts, chosen by the task's stable hash
/// (``Shards/rank(of:)``).
///
/// One table of a million tasks doubles in one step: every entry is rehashed and moved at
/// once, on the store's actor, while every request waits. Measured with `POST /v1/tasks`
/// under wrk, that step stalled the API for up to 1.3 s as the table passed 786,432 tasks.
/// In parts, each grows on its own, a sixty-fourth of the work at a time.
public struct TaskTable: Sendable, Equatable, Sequence {
    /// How many parts the table keeps.
    static let partCount = 64

    private var parts: [[TaskID: TaskState]]
    /// The number of tasks.
    public private(set) var count = 0

    /// An empty table.
    public init() {
        parts = Array(repeating: [:], count: Self.partCount)
    }

    /// A table of `tasks`.
    public init(_ tasks: [TaskID: TaskState]) {
        self.init(minimumCapacity: tasks.count)
        for (id, state) in tasks { self[id] = state }
    }

    /// An empty table with room for `capacity` tasks.
    init(minimumCapacity capacity: Int) {
        let each = capacity / Self.partCount + 1
        parts = (0..<Self.partCount).map { _ in Dictionary(minimumCapacity: each) }
    }

    /// The part of the table a task's entry is kept in (the run log parts its records alike).
    @inline(__always)
    static func part(of id: TaskID) -> Int { Int(Shards.rank(of: id) % UInt64(partCount)) }

    /// Whether there is no task.
    public var isEmpty: Bool { count == 0 }

    /// The task's state, nil if there is no such task.
    public subscript(id: TaskID) -> TaskState? {
        get { parts[Self.part(of: id)][id] }
        set {
            let part = Self.part(of: id)
            let before = parts[part].count
            parts[part][id] = newValue
            count += parts[part].count - before
        }
    }

    /// Where a task's state is held, for reading or changing it in place.
    public struct Index: Sendable {
        fileprivate let part: Int
        fileprivate let index: Dictionary<TaskID, TaskState>.Index
    }

    /// Where `id`'s state is held; nil if there is no such task.
    @inline(__always)
    public func index(forKey id: TaskID) -> Index? {
        let part = Self.part(of: id)
        return parts[part].index(forKey: id).map { Index(part: part, index: $0) }
    }

    /// The state at `position`, read or changed in place (no copy of the whole state).
    public subscript(position: Index) -> TaskState {
        _read { yield parts[position.part].values[position.index] }
        _modify { yield &parts[position.part].values[position.index] }
    }

    /// Every task id, in no particular order.
    public var keys: some Sequence<TaskID> { parts.lazy.flatMap(\.keys) }

    /// Every task's state, in no particular order.
    public var values: some Sequence<TaskState> { parts.lazy.flatMap(\.values) }

    /// How many tasks the parts have room for before they grow.
    public var capacity: Int { parts.reduce(0) { $0 + $1.capacity } }

    public func makeIterator() -> some IteratorProtocol<(key: TaskID, value: TaskState)> {
        parts.lazy.flatMap { $0 }.makeIterator()
    }
}
