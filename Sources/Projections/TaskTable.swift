import Dispatch
public import Scheduling
import Synchronization

/// Every task's state by id: a hash table in 64 parts, chosen by the task's stable hash
/// (``Shards/rank(of:)``).
///
/// One table of a million tasks doubles in one step: every entry is rehashed and moved at
/// once, on the store's actor, while every request waits. Measured with `POST /v1/tasks`
/// under wrk, that step stalled the API for up to 1.3 s as the table passed 786,432 tasks.
/// In parts, each grows on its own, a sixty-fourth of the work at a time.
///
/// Each part keeps its states in one array, grown by a quarter at a time, and finds them
/// through a hash table of slot numbers (see ``Part``): at 100,000 tasks that took resident
/// memory from 2,609 to 2,235 bytes per active task, against a hash table of the states.
public struct TaskTable: Sendable, Equatable, Sequence {
    /// How many parts the table keeps.
    static let partCount = 64

    private var parts: [Part]
    /// The number of tasks.
    public private(set) var count = 0

    /// An empty table.
    public init() {
        parts = Array(repeating: Part(), count: Self.partCount)
    }

    /// A table of `tasks`.
    public init(_ tasks: [TaskID: TaskState]) {
        self.init(minimumCapacity: tasks.count)
        for (id, state) in tasks { self[id] = state }
    }

    /// An empty table with room for `capacity` tasks.
    init(minimumCapacity capacity: Int) {
        let each = capacity / Self.partCount + 1
        parts = (0..<Self.partCount).map { _ in Part(minimumCapacity: each) }
    }

    /// A table of the parts given, `parts[n]` holding the tasks of part n.
    init(parts: [Part]) {
        precondition(parts.count == Self.partCount, "a table has \(Self.partCount) parts")
        self.parts = parts
        count = parts.reduce(0) { $0 + $1.count }
    }

    /// Part `number` of the table.
    func part(_ number: Int) -> Part { parts[number] }

    /// Part `number`, read or changed in place (the count follows the part's).
    subscript(part number: Int) -> Part {
        _read { yield parts[number] }
        _modify {
            let before = parts[number].count
            yield &parts[number]
            count += parts[number].count - before
        }
    }

    /// Takes every part out, leaving the table empty (for a fold on several cores);
    /// ``init(parts:)`` puts them back.
    mutating func takeParts() -> [Part] {
        var taken = Array(repeating: Part(), count: parts.count)
        swap(&taken, &parts)
        count = 0
        return taken
    }

    /// The part of the table a task's entry is kept in (the run log parts its records alike).
    @inline(__always)
    static func part(of id: TaskID) -> Int { Int(Shards.rank(of: id) % UInt64(partCount)) }

    /// ``part(of:)`` of the task whose id's UTF-8 bytes are `id`.
    @inline(__always)
    static func part(ofBytes id: UnsafeRawBufferPointer) -> Int { Int(Shards.rank(ofBytes: id) % UInt64(partCount)) }

    /// Whether there is no task.
    public var isEmpty: Bool { count == 0 }

    /// The task's state, nil if there is no such task.
    public subscript(id: TaskID) -> TaskState? {
        get {
            let part = Self.part(of: id)
            return parts[part].slots[id].map { parts[part].states[Int($0)] }
        }
        set {
            let part = Self.part(of: id)
            let before = parts[part].states.count
            if let newValue { parts[part].set(newValue, for: id) } else { parts[part].remove(id) }
            count += parts[part].states.count - before
        }
    }

    /// Where a task's state is held, for reading or changing it in place.
    public struct Index: Sendable {
        fileprivate let part: Int
        fileprivate let slot: Int
    }

    /// Where `id`'s state is held; nil if there is no such task.
    @inline(__always)
    public func index(forKey id: TaskID) -> Index? {
        let part = Self.part(of: id)
        return parts[part].slots[id].map { Index(part: part, slot: Int($0)) }
    }

    /// The state at `position`, read or changed in place (no copy of the whole state).
    public subscript(position: Index) -> TaskState {
        _read { yield parts[position.part].states[position.slot] }
        _modify { yield &parts[position.part].states[position.slot] }
    }

    /// Every task id, in no particular order.
    public var keys: some Sequence<TaskID> { parts.lazy.flatMap { $0.states.lazy.map(\.id) } }

    /// Every task's state, in no particular order.
    public var values: some Sequence<TaskState> { parts.lazy.flatMap(\.states) }

    /// The results of `transform` for every task's state, joined, the parts read on every
    /// core at once, with no state copied; in no particular order.
    public func concurrentFlatMap<T: Sendable>(_ transform: @Sendable (borrowing TaskState) -> [T]) -> [T] {
        let results = Mutex([[T]](repeating: [], count: parts.count))
        let parts = self.parts
        DispatchQueue.concurrentPerform(iterations: parts.count) { number in
            var found: [T] = []
            let states = parts[number].states
            for slot in states.indices { found.append(contentsOf: transform(states[slot])) }
            results.withLock { $0[number] = found }
        }
        return results.withLock { $0.flatMap { $0 } }
    }

    /// How many tasks the parts have room for before they grow.
    public var capacity: Int { parts.reduce(0) { $0 + $1.states.capacity } }

    /// The bytes the table takes: its arrays of states and its hash tables of slots (the
    /// heap storage of each state's own fields comes on top).
    public var footprint: Int {
        parts.reduce(0) { total, part in
            total + part.states.capacity * MemoryLayout<TaskState>.stride
                + part.slots.capacity * 4 / 3 * (MemoryLayout<TaskID>.stride + MemoryLayout<Int32>.stride)
        }
    }

    public func makeIterator() -> some IteratorProtocol<(key: TaskID, value: TaskState)> {
        parts.lazy.flatMap { $0.states.lazy.map { (key: $0.id, value: $0) } }.makeIterator()
    }

    /// Tables are equal when they hold equal states for the same ids, in any order.
    public static func == (lhs: TaskTable, rhs: TaskTable) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (left, right) in zip(lhs.parts, rhs.parts) {
            guard left.states.count == right.states.count else { return false }
            for state in left.states {
                guard let slot = right.slots[state.id], right.states[Int(slot)] == state else { return false }
            }
        }
        return true
    }
}

extension TaskTable {
    /// One part: the states in one array, found by id through a hash table of their slots.
    ///
    /// A hash table of the states themselves holds between 1⅓ and 2⅔ slots of 192 bytes per
    /// task (it doubles at three quarters full); this holds one state per task plus a
    /// quarter at most, and the table's slots are 20 bytes.
    struct Part: Sendable {
        var slots: [TaskID: Int32] = [:]
        var states: ContiguousArray<TaskState> = []

        init() {}

        init(minimumCapacity: Int) {
            slots = Dictionary(minimumCapacity: minimumCapacity)
            states.reserveCapacity(minimumCapacity)
        }

        /// The number of tasks.
        var count: Int { states.count }

        mutating func set(_ state: TaskState, for id: TaskID) {
            assert(state.id == id, "a task's state is kept under its own id")
            if let slot = slots[id] {
                states[Int(slot)] = state
                return
            }
            insert(state)
        }

        /// Adds the state of a task the part does not hold yet.
        mutating func insert(_ state: TaskState) {
            if states.count == states.capacity {
                // Grown by a quarter, not doubled: the room stays close to the count.
                states.reserveCapacity(states.count + Swift.max(16, states.count / 4))
            }
            slots[state.id] = Int32(states.count)
            states.append(state)
        }

        /// Removes `id`'s state; the last state moves into its slot.
        mutating func remove(_ id: TaskID) {
            guard let slot = slots.removeValue(forKey: id) else { return }
            let last = states.removeLast()
            if Int(slot) < states.count {
                states[Int(slot)] = last
                slots[last.id] = slot
            }
        }
    }
}
