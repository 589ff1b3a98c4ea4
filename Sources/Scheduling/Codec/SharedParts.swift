import Synchronization

/// The fields task definitions keep in common (``TaskDefinition/Common``), by value: every
/// definition with equal labels, method, headers, body, timeout, retry, overlap, misfire and
/// namespace shares one object of them.
///
/// A memo, not state (like ``CronScheduleMemo``): sharing equal immutable values cannot
/// change any result. A million tasks made from a few templates then hold a few copies of
/// their headers and bodies rather than a million.
enum SharedParts {
    /// Objects in use by their hash, within a count and a size of text.
    struct Table {
        private var kept: BoundedBuckets<Int, TaskDefinition.Common>
        var count: Int { kept.count }
        var textBytes: Int { kept.bytes }

        init(capacity: Int, textCapacity: Int) { kept = BoundedBuckets(capacity: capacity, byteCapacity: textCapacity) }

        /// An object equal to `common` (whose hash value is `hash`) already kept, or
        /// `common`, kept from now on.
        mutating func shared(_ common: TaskDefinition.Common, hash: Int) -> TaskDefinition.Common {
            if let equal = kept.first(hash, where: { $0 == common }) { return equal }
            kept.insert(common, hash: hash, size: common.textBytes)
            return common
        }
    }

    /// The memo alone keeps alive at most 65,536 objects and 64 MiB of text that no task
    /// holds any more. The bound in bytes is as loose as the count's for templates of 1 KiB:
    /// a memo that starts again while templates still come back makes a new copy of each
    /// of them every time. (The hash is computed before taking the lock: two threads read a
    /// snapshot's parts at once.)
    private static let table = Mutex(Table(capacity: 65_536, textCapacity: 64 << 20))

    /// An object equal to `common` already in use, or `common`.
    static func common(_ common: TaskDefinition.Common) -> TaskDefinition.Common {
        let hash = common.hashValue
        return table.withLock { $0.shared(common, hash: hash) }
    }
}
