/// When a task's occurrences fall: once, by cron in a time zone, or at a fixed interval,
/// optionally bounded by a first and a last instant (both inclusive).
public struct Schedule: Sendable, Hashable {
    /// The three kinds of schedule.
    public enum Kind: Sendable, Hashable {
        /// One occurrence at an instant.
        case once(Instant)
        /// Every firing of a cron expression on the wall clock of a time zone.
        case cron(CronSchedule)
        /// `anchor + k × every` for every whole `k`; `every` is at least one millisecond.
        case interval(every: Duration, anchor: Instant)
    }

    /// What kind of schedule this is.
    public var kind: Kind
    /// No occurrence falls before this instant.
    public var startAt: Instant?
    /// No occurrence falls after this instant.
    public var endAt: Instant?

    /// Creates a schedule.
    public init(_ kind: Kind, startAt: Instant? = nil, endAt: Instant? = nil) {
        self.kind = kind
        self.startAt = startAt
        self.endAt = endAt
    }

    /// The first occurrence strictly after `instant`, or nil when there is none.
    public func next(after instant: Instant) -> Instant? {
        // Occurrences before `startAt` do not count: search from just before it.
        var from = instant
        if let startAt, startAt.microsecondsSinceEpoch - 1 > from.microsecondsSinceEpoch {
            from = Instant(microsecondsSinceEpoch: startAt.microsecondsSinceEpoch - 1)
        }
        let candidate: Instant?
        switch kind {
        case .once(let at):
            candidate = at > from ? at : nil
        case .cron(let cron):
            candidate = cron.next(after: from)
        case .interval(let every, let anchor):
            let step = max(1, every.wholeMicroseconds)
            let offset = from.microsecondsSinceEpoch - anchor.microsecondsSinceEpoch
            // The smallest k with anchor + k·step > from: floor(offset / step) + 1.
            let k = offset.floorDivided(by: step) + 1
            let (product, overflow) = k.multipliedReportingOverflow(by: step)
            let (sum, overflowSum) = anchor.microsecondsSinceEpoch.addingReportingOverflow(product)
            candidate = overflow || overflowSum ? nil : Instant(microsecondsSinceEpoch: sum)
        }
        guard let candidate else { return nil }
        if let endAt, candidate > endAt { return nil }
        return candidate
    }

    /// Up to `count` occurrences after `instant`, in order.
    public func occurrences(after instant: Instant, count: Int) -> [Instant] {
        var result: [Instant] = []
        var cursor = instant
        while result.count < count, let next = next(after: cursor) {
            result.append(next)
            cursor = next
        }
        return result
    }
}
