import HeapModule
public import Scheduling

/// Every attempt that will fall due, in due order: min-heaps with lazy invalidation, one per
/// shard.
///
/// A task's change pushes only its new entries (O(log n) each); entries it no longer has are
/// left in the heap and dropped when they reach the top, after a check against the task's
/// state. When dropped entries outnumber live ones the heaps are rebuilt.
///
/// A single node keeps one shard. In a cluster the tasks hash into ``Shards/clusterCount``
/// shards (``Shards/shard(of:count:)``), each node claims only in the shards it owns, and
/// the index answers for a set of shards without looking at the others' entries.
public struct DueIndex: Sendable {
    private var heaps: [Heap<DueEntry>]
    /// The number of entries the tasks currently have (the heaps may hold more, stale).
    public private(set) var liveCount = 0

    /// Creates an empty index of `shardCount` shards.
    public init(shardCount: Int = 1) {
        heaps = Array(repeating: Heap(), count: max(1, shardCount))
    }

    /// Builds the index of `entries`: every entry the tasks have, each once.
    init(entries: [DueEntry], shardCount: Int = 1) {
        liveCount = entries.count
        guard shardCount > 1 else {
            heaps = [Heap(entries)]
            return
        }
        var all = Array(repeating: [DueEntry](), count: shardCount)
        for entry in entries { all[Self.shard(of: entry, count: shardCount)].append(entry) }
        heaps = all.map { Heap($0) }
    }

    /// How many shards the index keeps.
    public var shardCount: Int { heaps.count }

    @inline(__always)
    private static func shard(of entry: DueEntry, count: Int) -> Int {
        count == 1 ? 0 : Int(entry.rank % UInt64(count))
    }

    /// Records a task's change from `before` to `after`.
    mutating func update(before: [DueEntry], after: [DueEntry]) {
        for entry in after where !before.contains(entry) {
            heaps[Self.shard(of: entry, count: heaps.count)].insert(entry)
        }
        liveCount += after.count - before.count
    }

    /// The earliest current entry of the shards in `shards` (nil: all), dropping stale ones
    /// from the tops.
    mutating func first(in shards: ShardSet?, current: (DueEntry) -> Bool) -> DueEntry? {
        var earliest: DueEntry?
        for entry in reserved where (shards?.contains(Self.shard(of: entry, count: heaps.count)) ?? true) && current(entry) {
            if earliest.map({ entry < $0 }) ?? true { earliest = entry }
        }
        for index in heaps.indices where shards?.contains(index) ?? true {
            while let top = heaps[index].min {
                if current(top) {
                    if earliest.map({ top < $0 }) ?? true { earliest = top }
                    break
                }
                heaps[index].removeMin()
            }
        }
        return earliest
    }

    /// Every current entry of the shards in `shards` (nil: all) due at or before `now`,
    /// earliest first (at most `limit`).
    ///
    /// Without `reserving` they all stay in the index until the events that claim or skip them
    /// make them stale. With it they are set aside (``reserved``): a later call does not
    /// return them again, and ``releaseReserved(current:)`` puts back those still current once
    /// their decisions are applied. A burst's claims so cost one heap removal each, instead of
    /// a removal and a re-insertion at every call until they are applied.
    mutating func due(
        at now: Instant, limit: Int, in shards: ShardSet? = nil, reserving: Bool = false,
        current: (DueEntry) -> Bool
    ) -> [DueEntry] {
        var taken: [DueEntry] = []
        func consider(_ entry: DueEntry) {
            if current(entry) && taken.last != entry { taken.append(entry) }
        }
        let selected = heaps.indices.filter { shards?.contains($0) ?? true }
        if selected.count == 1, let only = selected.first {
            while taken.count < limit, let top = heaps[only].min, top.dueAt <= now {
                consider(heaps[only].removeMin())
            }
        } else {
            // A k-way merge: the shards' earliest entries in a small heap, so the whole answer
            // is in due order across shards.
            var fronts = Heap<Front>()
            for index in selected {
                if let top = heaps[index].min, top.dueAt <= now { fronts.insert(Front(entry: top, shard: index)) }
            }
            while taken.count < limit, let front = fronts.popMin() {
                consider(heaps[front.shard].removeMin())
                if let next = heaps[front.shard].min, next.dueAt <= now { fronts.insert(Front(entry: next, shard: front.shard)) }
            }
        }
        if reserving {
            reserved.append(contentsOf: taken)
        } else {
            for entry in taken { heaps[Self.shard(of: entry, count: heaps.count)].insert(entry) }
        }
        return taken
    }

    /// Entries set aside by ``due(at:limit:in:reserving:current:)``, out of the heaps until
    /// released.
    public private(set) var reserved: [DueEntry] = []

    /// Puts the reserved entries that are still current back into the heaps, and drops the
    /// others (claimed or skipped meanwhile).
    mutating func releaseReserved(current: (DueEntry) -> Bool) {
        for entry in reserved where current(entry) { heaps[Self.shard(of: entry, count: heaps.count)].insert(entry) }
        reserved = []
    }

    /// A shard's earliest entry, ordered as the entry.
    private struct Front: Comparable {
        let entry: DueEntry
        let shard: Int
        static func < (lhs: Front, rhs: Front) -> Bool { lhs.entry < rhs.entry }
        static func == (lhs: Front, rhs: Front) -> Bool { lhs.entry == rhs.entry && lhs.shard == rhs.shard }
    }

    /// The number of entries in the heaps and set aside, stale ones included.
    public var storedCount: Int { heaps.reduce(0) { $0 + $1.count } + reserved.count }

    /// Drops the entries `current` rejects, rebuilding the heaps from the rest: cheaper than
    /// rebuilding from every task, and it touches no task state.
    mutating func compact(current: (DueEntry) -> Bool) {
        reserved.removeAll { !current($0) }
        for index in heaps.indices {
            var kept = Array(heaps[index].unordered)
            kept.removeAll { !current($0) }
            heaps[index] = Heap(kept)
        }
    }

    /// Whether stale entries outnumber live ones enough to be worth a rebuild. Entries set
    /// aside do not count: they leave when released, and in a burst most of them turn stale
    /// as their claims are applied, which would otherwise rebuild the heaps again and again.
    var needsCompaction: Bool { heaps.reduce(0) { $0 + $1.count } > 2 * liveCount + 1024 }
}

/// How tasks are spread over shards: by a stable hash of the task id (FNV-1a, the same
/// number ``DueEntry`` orders by), so every node and every process agrees.
public enum Shards {
    /// The number of shards a cluster divides its tasks into. Fixed: every node must agree,
    /// and it bounds how finely ownership can be spread (64 shards over 3 nodes: 21 or 22 each).
    public static let clusterCount = 64

    /// The shard of `task` among `count` shards.
    public static func shard(of task: TaskID, count: Int) -> Int {
        guard count > 1 else { return 0 }
        return Int(rank(of: task) % UInt64(count))
    }

    /// FNV-1a of the task id's UTF-8 bytes.
    @inline(__always)
    static func rank(of task: TaskID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in task.rawValue.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// ``rank(of:)`` of the task whose id's UTF-8 bytes are `id`.
    @inline(__always)
    static func rank(ofBytes id: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// A set of shard numbers (0 to 63 … any small count), as a bit set.
public struct ShardSet: Sendable, Hashable, Sequence, ExpressibleByArrayLiteral, CustomStringConvertible {
    private var bits: [UInt64] = []

    public init() {}

    public init(_ shards: some Sequence<Int>) {
        for shard in shards { insert(shard) }
    }

    public init(arrayLiteral shards: Int...) { self.init(shards) }

    /// Every shard of `count`.
    public static func all(_ count: Int) -> ShardSet { ShardSet(0..<count) }

    public func contains(_ shard: Int) -> Bool {
        let word = shard / 64
        return shard >= 0 && word < bits.count && bits[word] & (1 << UInt64(shard % 64)) != 0
    }

    public mutating func insert(_ shard: Int) {
        precondition(shard >= 0, "a shard number is not negative")
        let word = shard / 64
        if word >= bits.count { bits += Array(repeating: 0, count: word - bits.count + 1) }
        bits[word] |= 1 << UInt64(shard % 64)
    }

    public mutating func remove(_ shard: Int) {
        let word = shard / 64
        guard shard >= 0, word < bits.count else { return }
        bits[word] &= ~(1 << UInt64(shard % 64))
        while bits.last == 0 { bits.removeLast() }
    }

    public var count: Int { bits.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isEmpty: Bool { bits.isEmpty }

    public func union(_ other: ShardSet) -> ShardSet { ShardSet(Array(self) + Array(other)) }
    public func subtracting(_ other: ShardSet) -> ShardSet { ShardSet(filter { !other.contains($0) }) }
    public func intersection(_ other: ShardSet) -> ShardSet { ShardSet(filter { other.contains($0) }) }

    public func makeIterator() -> some IteratorProtocol<Int> {
        let bits = self.bits
        return (0..<(bits.count * 64)).lazy.filter { bits[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }.makeIterator()
    }

    public var description: String { "[" + map(String.init).joined(separator: ",") + "]" }
}
