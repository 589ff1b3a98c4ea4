import HeapModule
import Scheduling

/// Every attempt that will fall due, in due order: a min-heap with lazy invalidation.
///
/// A task's change pushes only its new entries (O(log n) each); entries it no longer has are
/// left in the heap and dropped when they reach the top, after a check against the task's
/// state. When dropped entries outnumber live ones the heap is rebuilt.
public struct DueIndex: Sendable {
    private var heap = Heap<DueEntry>()
    /// The number of entries the tasks currently have (the heap may hold more, stale).
    public private(set) var liveCount = 0

    /// Creates an empty index.
    public init() {}

    /// Builds the index of every task in `tasks`.
    init(tasks: some Sequence<TaskState>) {
        var all: [DueEntry] = []
        for state in tasks { all += DueEntry.entries(of: state) }
        heap = Heap(all)
        liveCount = all.count
    }

    /// Records a task's change from `before` to `after`.
    mutating func update(before: [DueEntry], after: [DueEntry]) {
        for entry in after where !before.contains(entry) { heap.insert(entry) }
        liveCount += after.count - before.count
    }

    /// The earliest current entry, dropping stale ones from the top.
    mutating func first(current: (DueEntry) -> Bool) -> DueEntry? {
        while let top = heap.min {
            if current(top) { return top }
            heap.removeMin()
        }
        return nil
    }

    /// Every current entry due at or before `now`, earliest first (at most `limit`). They stay
    /// in the index until the events that claim or skip them make them stale.
    mutating func due(at now: Instant, limit: Int, current: (DueEntry) -> Bool) -> [DueEntry] {
        due(at: now, limit: limit, excluding: [], current: current)
    }

    /// ``due(at:limit:current:)`` passing over the entries in `excluded`, which stay in the
    /// index (they are current; their decisions are not applied yet).
    mutating func due(at now: Instant, limit: Int, excluding excluded: Set<DueEntry>, current: (DueEntry) -> Bool) -> [DueEntry] {
        var taken: [DueEntry] = []
        var passed: [DueEntry] = []
        while taken.count < limit, let top = heap.min, top.dueAt <= now {
            let entry = heap.removeMin()
            if excluded.contains(entry) {
                if passed.last != entry { passed.append(entry) }
            } else if current(entry) && taken.last != entry {
                taken.append(entry)
            }
        }
        for entry in taken { heap.insert(entry) }
        for entry in passed { heap.insert(entry) }
        return taken
    }

    /// The number of entries in the heap, stale ones included.
    public var storedCount: Int { heap.count }

    /// Drops the entries `current` rejects, rebuilding the heap from the rest: cheaper than
    /// rebuilding from every task, and it touches no task state.
    mutating func compact(current: (DueEntry) -> Bool) {
        var kept = Array(heap.unordered)
        kept.removeAll { !current($0) }
        heap = Heap(kept)
    }

    /// Whether stale entries outnumber live ones enough to be worth a rebuild.
    var needsCompaction: Bool { heap.count > 2 * liveCount + 1024 }
}
