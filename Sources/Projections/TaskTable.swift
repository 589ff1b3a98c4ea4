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
/// Each part keeps its states in one array, doubled as it grows, and finds them
/// through an index of slot numbers (see ``Part``): at 100,000 tasks that took resident
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

    /// The capacity a part's array of `count` elements grows to when full: four times as
    /// large. The room never touched stays out of resident memory (large arrays are mappings
    /// of their own, `ProcessMemory`), and every growth copies the elements into pages that
    /// must be faulted in and zeroed: growing by a quarter copied each element about five
    /// times on the way to a part's size, doubling about twice, quadrupling a third of a
    /// time. A 1 M-task replay: 451,000 page faults doubling, 379,000 quadrupling; resident
    /// memory the same, 973 B per active task (ADR 0017).
    static func grownCapacity(_ count: Int) -> Int { Swift.max(16, count * 4) }

    /// The part of the table a task's entry is kept in (the run log parts its records alike).
    @inline(__always)
    static func part(of id: TaskID) -> Int { part(hash: Shards.rank(of: id)) }

    /// ``part(of:)`` of the task whose id's ``Shards/rank(of:)`` is `hash`.
    @inline(__always)
    static func part(hash: UInt64) -> Int { Int(hash % UInt64(partCount)) }

    /// Whether there is no task.
    public var isEmpty: Bool { count == 0 }

    /// The task's state, nil if there is no such task.
    public subscript(id: TaskID) -> TaskState? {
        get {
            let hash = Shards.rank(of: id)
            let part = Self.part(hash: hash)
            return parts[part].slot(of: id, hash: hash).map { parts[part].states[$0] }
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
        let hash = Shards.rank(of: id)
        let part = Self.part(hash: hash)
        return parts[part].slot(of: id, hash: hash).map { Index(part: part, slot: $0) }
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

    /// What `gather` hands out for every task's state, written straight into one array, the
    /// parts read on every core. `count` says first how many each state gives, so each part
    /// writes a stretch of the array of its own: no array is made per state or per part (the
    /// join of the parts' arrays copied a million due entries on one core, retaining each).
    /// Within a part the order is kept; a state that gives other than `count` said traps.
    func concurrentGather<T: Sendable>(
        count: @Sendable (borrowing TaskState) -> Int, _ gather: @Sendable (borrowing TaskState, (T) -> Void) -> Void
    ) -> [T] {
        let parts = self.parts
        let counted = Mutex([Int](repeating: 0, count: parts.count))
        DispatchQueue.concurrentPerform(iterations: parts.count) { number in
            let states = parts[number].states
            var total = 0
            for slot in states.indices { total += count(states[slot]) }
            counted.withLock { $0[number] = total }
        }
        let sizes = counted.withLock { $0 }
        var offsets: [Int] = []
        var total = 0
        for size in sizes {
            offsets.append(total)
            total += size
        }
        let starts = offsets
        return [T](unsafeUninitializedCapacity: total) { buffer, initialized in
            let base = Stretches(base: buffer.baseAddress)
            DispatchQueue.concurrentPerform(iterations: parts.count) { number in
                var next = starts[number]
                let end = next + sizes[number]
                let states = parts[number].states
                for slot in states.indices {
                    gather(states[slot]) { element in
                        precondition(next < end, "a state gave more than it counted")
                        base.initialize(at: next, to: element)
                        next += 1
                    }
                }
                precondition(next == end, "a state gave fewer than it counted")
            }
            initialized = total
        }
    }

    /// The array ``concurrentGather(count:_:)`` fills, shared by its workers.
    /// `@unchecked Sendable`: each worker initializes only its own part's stretch of it.
    private struct Stretches<T>: @unchecked Sendable {
        let base: UnsafeMutablePointer<T>?

        func initialize(at index: Int, to element: T) { (base! + index).initialize(to: element) }
    }

    /// The first `limit` states in id order whose ids come after `after` (when given) and
    /// that `include` admits. One pass, states read in place, a heap of `limit`: a state is
    /// copied only when it is among the first so far (a listing's page of a million tasks
    /// copied every match and sorted them all: half a second on the store's actor).
    public func first(_ limit: Int, after: String? = nil, where include: (borrowing TaskState) -> Bool) -> [TaskState] {
        var picked = Smallest<TaskState>(limit) { $0.id < $1.id }
        for part in parts {
            let states = part.states
            for slot in states.indices {
                if let after, states[slot].id.rawValue <= after { continue }
                if picked.isFull, let largest = picked.largest, !(states[slot].id < largest.id) { continue }
                guard include(states[slot]) else { continue }
                picked.offer(states[slot])
            }
        }
        return picked.sorted()
    }

    /// How many tasks the parts have room for before they grow.
    public var capacity: Int { parts.reduce(0) { $0 + $1.states.capacity } }

    /// The bytes the table takes: its arrays of states and the indexes of their slots (the
    /// heap storage of each state's own fields comes on top).
    public var footprint: Int {
        parts.reduce(0) { total, part in
            total + part.states.capacity * MemoryLayout<TaskState>.stride + part.index.footprint
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
                guard let slot = right.slot(of: state.id), right.states[slot] == state else { return false }
            }
        }
        return true
    }
}

extension TaskTable {
    /// One part: the states in one array, found by id through an index of their slots keyed
    /// by the id's hash (``SlotIndex``).
    ///
    /// A hash table of the states themselves holds between 1⅓ and 2⅔ slots of 168 bytes per
    /// task (it doubles at three quarters full, and rehashing touches all of it); this
    /// touches one state per task, and the index's buckets are 8 bytes.
    struct Part: Sendable {
        var index = SlotIndex()
        var states: ContiguousArray<TaskState> = []

        init() {}

        init(minimumCapacity: Int) {
            index = SlotIndex(minimumCapacity: minimumCapacity)
            states.reserveCapacity(minimumCapacity)
        }

        /// The number of tasks.
        var count: Int { states.count }

        /// The slot of `id`'s state; `hash` is the id's ``Shards/rank(of:)``.
        @inline(__always)
        func slot(of id: TaskID, hash: UInt64) -> Int? {
            states.withUnsafeBufferPointer { states in
                index.find(hash) { states[Int($0)].id == id }.map(Int.init)
            }
        }

        /// The slot of the state of the task whose id's UTF-8 bytes are `id`, with the hash
        /// `hash` (no string made to find it).
        @inline(__always)
        func slot(ofBytes id: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
            states.withUnsafeBufferPointer { states in
                index.find(hash) { slot in
                    let text = states[Int(slot)].id.rawValue.utf8
                    return text.withContiguousStorageIfAvailable { $0.elementsEqual(id) } ?? text.elementsEqual(id)
                }.map(Int.init)
            }
        }

        /// The slot of `id`'s state.
        func slot(of id: TaskID) -> Int? { slot(of: id, hash: Shards.rank(of: id)) }

        mutating func set(_ state: TaskState, for id: TaskID) {
            assert(state.id == id, "a task's state is kept under its own id")
            let hash = Shards.rank(of: id)
            if let slot = slot(of: id, hash: hash) {
                states[slot] = state
                return
            }
            insert(state, hash: hash)
        }

        /// Adds the state of a task the part does not hold yet; `hash` is its id's
        /// ``Shards/rank(of:)``.
        mutating func insert(_ state: TaskState, hash: UInt64) {
            if states.count == states.capacity { states.reserveCapacity(TaskTable.grownCapacity(states.count)) }
            index.insert(hash, slot: Int32(states.count))
            states.append(state)
        }

        /// Adds the state of a task the part does not hold yet.
        mutating func insert(_ state: TaskState) { insert(state, hash: Shards.rank(of: state.id)) }

        /// Removes `id`'s state; the last state moves into its slot.
        mutating func remove(_ id: TaskID) {
            let hash = Shards.rank(of: id)
            guard let slot = slot(of: id, hash: hash) else { return }
            index.remove(hash, slot: Int32(slot))
            let last = states.removeLast()
            if slot < states.count {
                index.move(Shards.rank(of: last.id), from: Int32(states.count), to: Int32(slot))
                states[slot] = last
            }
        }
    }
}
