/// Slot numbers found by a task's 64-bit hash (``Shards/rank(of:)``), for the parts of
/// ``TaskTable`` and ``RunLog``: open addressing with linear probing in one array of 8-byte
/// buckets, each holding the hash's upper 32 bits and a slot number.
///
/// A Swift dictionary from task id to slot hashed the id's text with SipHash on every lookup,
/// and kept 16-byte keys and the slots in arrays of their own: a lookup touched the key's
/// bucket, the slot's, and for an id over 15 bytes the id's own storage. The FNV-1a hash is
/// already computed to choose the task's part, so a lookup here touches one bucket and asks
/// the caller to compare ids only for a slot whose 32 bits match. A bucket is 8 bytes against
/// 20 (ADR 0015).
///
/// The index does not know the keys: ``find(_:where:)`` asks whether a candidate slot holds
/// the key sought, and the caller never inserts a key twice.
struct SlotIndex: Sendable {
    /// `hash >> 32` in the upper half, slot + 1 in the lower half; 0: empty. The count is a
    /// power of two (at least 16) or 0.
    private var buckets: [UInt64] = []
    /// How many slots are indexed.
    private(set) var count = 0
    /// log2 of the bucket count.
    private var bits = 0

    init() {}

    /// An empty index with room for `capacity` slots before it grows.
    init(minimumCapacity capacity: Int) {
        guard capacity > 0 else { return }
        var bits = 4
        while (1 << bits) * 3 / 4 < capacity { bits += 1 }
        allocate(bits: bits)
    }

    /// The slot whose key has the hash `hash` and satisfies `matches`, if any.
    @inline(__always)
    func find(_ hash: UInt64, where matches: (Int32) -> Bool) -> Int32? {
        guard count > 0 else { return nil }
        let tag = hash >> 32
        let mask = buckets.count - 1
        return buckets.withUnsafeBufferPointer { buckets in
            var index = Self.home(tag, bits: bits)
            while true {
                let bucket = buckets[index]
                if bucket == 0 { return nil }
                if bucket >> 32 == tag {
                    let slot = Int32(truncatingIfNeeded: bucket & 0xFFFF_FFFF) - 1
                    if matches(slot) { return slot }
                }
                index = (index + 1) & mask
            }
        }
    }

    /// Indexes `slot` under `hash` (a key not indexed yet).
    mutating func insert(_ hash: UInt64, slot: Int32) {
        precondition(slot >= 0, "slots are not negative")
        if (count + 1) * 4 > buckets.count * 3 { allocate(bits: buckets.isEmpty ? 4 : bits + 1) }
        place(Self.bucket(tag: hash >> 32, slot: slot))
        count += 1
    }

    /// Removes `slot`, indexed under `hash`; the buckets after it move back to close the gap
    /// (no tombstones: lookups stay as short as the load allows).
    mutating func remove(_ hash: UInt64, slot: Int32) {
        guard var hole = bucketIndex(hash, slot: slot) else { return }
        let mask = buckets.count - 1
        var next = hole
        while true {
            next = (next + 1) & mask
            let bucket = buckets[next]
            if bucket == 0 { break }
            // The bucket may fill the hole if the hole lies between its home and where it is.
            let home = Self.home(bucket >> 32, bits: bits)
            if (next &- home) & mask >= (next &- hole) & mask {
                buckets[hole] = bucket
                hole = next
            }
        }
        buckets[hole] = 0
        count -= 1
    }

    /// Points the key indexed under `hash` at `slot` `old` to `new` instead.
    mutating func move(_ hash: UInt64, from old: Int32, to new: Int32) {
        guard let index = bucketIndex(hash, slot: old) else { preconditionFailure("slot \(old) is not indexed") }
        buckets[index] = Self.bucket(tag: hash >> 32, slot: new)
    }

    /// The bytes the buckets take.
    var footprint: Int { buckets.capacity * MemoryLayout<UInt64>.stride }

    /// How many slots fit before the index grows.
    var capacity: Int { buckets.count * 3 / 4 }

    private func bucketIndex(_ hash: UInt64, slot: Int32) -> Int? {
        guard count > 0 else { return nil }
        let wanted = Self.bucket(tag: hash >> 32, slot: slot)
        let mask = buckets.count - 1
        var index = Self.home(hash >> 32, bits: bits)
        while buckets[index] != 0 {
            if buckets[index] == wanted { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    private mutating func place(_ bucket: UInt64) {
        let mask = buckets.count - 1
        var index = Self.home(bucket >> 32, bits: bits)
        while buckets[index] != 0 { index = (index + 1) & mask }
        buckets[index] = bucket
    }

    /// Replaces the buckets with `1 << bits` of them, the slots placed anew.
    private mutating func allocate(bits: Int) {
        let old = buckets
        buckets = Array(repeating: 0, count: 1 << bits)
        self.bits = bits
        for bucket in old where bucket != 0 { place(bucket) }
    }

    @inline(__always)
    private static func bucket(tag: UInt64, slot: Int32) -> UInt64 { tag << 32 | UInt64(UInt32(slot) + 1) }

    /// The first bucket to look in: the tag's Fibonacci hash. From the tag alone, so the
    /// index grows without its keys (the part is the hash's lower bits modulo 64, which the
    /// tag leaves out).
    @inline(__always)
    private static func home(_ tag: UInt64, bits: Int) -> Int {
        Int(truncatingIfNeeded: (tag &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
    }
}
