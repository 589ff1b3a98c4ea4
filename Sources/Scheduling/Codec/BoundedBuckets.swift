/// Values kept by a hash, at most `capacity` of them holding at most `byteCapacity` bytes
/// between them: past either it starts again. The store of the memos (``SharedParts``,
/// ``StoredCommonFields``), whose values only churn it when unique and come straight back
/// when shared.
struct BoundedBuckets<Hash: Hashable, Value> {
    private var byHash: [Hash: [Value]] = [:]
    /// How many values are kept, and the bytes they were counted as.
    private(set) var count = 0
    private(set) var bytes = 0
    let capacity: Int
    let byteCapacity: Int

    init(capacity: Int, byteCapacity: Int) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    /// The first value kept under `hash` that satisfies `matches`.
    func first(_ hash: Hash, where matches: (Value) -> Bool) -> Value? {
        byHash[hash]?.first(where: matches)
    }

    /// Keeps `value` under `hash`, counted as `size` bytes (after starting again, if it
    /// would pass either bound).
    mutating func insert(_ value: Value, hash: Hash, size: Int) {
        if count >= capacity || bytes + size > byteCapacity {
            byHash.removeAll(keepingCapacity: true)
            count = 0
            bytes = 0
        }
        byHash[hash, default: []].append(value)
        count += 1
        bytes += size
    }
}

extension BoundedBuckets: Sendable where Hash: Sendable, Value: Sendable {}
