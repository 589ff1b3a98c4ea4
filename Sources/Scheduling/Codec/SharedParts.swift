import Synchronization

/// The fields task definitions keep in common (``TaskDefinition/Common``), by value: every
/// definition with equal labels, method, headers, body, timeout, retry, overlap, misfire and
/// namespace shares one object of them.
///
/// A memo, not state (like ``CronScheduleMemo``): sharing equal immutable values cannot
/// change any result. A million tasks made from a few templates then hold a few copies of
/// their headers and bodies rather than a million.
enum SharedParts {
    /// Objects in use by their hash (computed before taking the lock: two threads read a
    /// snapshot's parts at once).
    private struct Table {
        var byHash: [Int: [TaskDefinition.Common]] = [:]
        var count = 0
    }

    private static let table = Mutex(Table())

    /// The most objects kept; past it the memo starts again (unique values only churn it;
    /// shared ones come straight back). At most a few megabytes.
    static let capacity = 65_536

    /// An object equal to `common` already in use, or `common`.
    static func common(_ common: TaskDefinition.Common) -> TaskDefinition.Common {
        let hash = common.hashValue
        return table.withLock { table in
            if let kept = table.byHash[hash]?.first(where: { $0 == common }) { return kept }
            if table.count >= capacity {
                table.byHash.removeAll(keepingCapacity: true)
                table.count = 0
            }
            table.byHash[hash, default: []].append(common)
            table.count += 1
            return common
        }
    }
}
