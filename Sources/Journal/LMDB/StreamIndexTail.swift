/// The stream-index entries not yet written to the `streams` database: those of every
/// record after the index's checkpoint (`indexed-through` in `meta`).
///
/// Writing one index entry per event in every commit would dirty one B-tree page per
/// stream touched, and fsync them all; batching the index turns that into one sorted bulk
/// write every few thousand events. The records stay the only truth: the tail is rebuilt
/// from them at open, and readers scan it in the same transaction (see ADR 0001).
struct StreamIndexTail {
    /// One unindexed record.
    struct Entry {
        let streamID: StreamID
        let version: UInt64
        let position: UInt64
    }

    /// What one commit adds, kept apart until the commit succeeds.
    struct Additions {
        var entries: [Entry] = []
        var heads: [StreamID: UInt64] = [:]
    }

    /// Every position up to this one has its entry in the `streams` database.
    private(set) var indexedThrough: UInt64
    /// The unindexed records, in position order.
    private(set) var entries: [Entry] = []
    /// Each stream's latest version among the unindexed records.
    private(set) var heads: [StreamID: UInt64] = [:]

    init(indexedThrough: UInt64) {
        self.indexedThrough = indexedThrough
    }

    var count: Int { entries.count }

    mutating func merge(_ additions: Additions) {
        entries.append(contentsOf: additions.entries)
        heads.merge(additions.heads) { _, new in new }
    }

    /// Forgets the oldest `count` entries, now written to the index; a stream whose latest
    /// entry was among them is looked up in the index again.
    mutating func dropIndexed(_ count: Int) {
        guard count > 0 else { return }
        for entry in entries.prefix(count) where heads[entry.streamID] == entry.version {
            heads[entry.streamID] = nil
        }
        indexedThrough = entries[count - 1].position
        entries.removeFirst(count)
    }
}
