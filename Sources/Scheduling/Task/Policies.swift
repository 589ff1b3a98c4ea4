/// How a failed run is retried: exponential backoff with full jitter.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included; 1 means no retry.
    public var maxAttempts: Int
    /// The backoff cap before the second attempt.
    public var initialBackoff: Duration
    /// How much the cap grows per attempt.
    public var multiplier: Double
    /// The largest cap.
    public var maxBackoff: Duration

    /// Creates a retry policy; the default makes one attempt.
    public init(
        maxAttempts: Int = 1,
        initialBackoff: Duration = .seconds(1),
        multiplier: Double = 2,
        maxBackoff: Duration = .seconds(300)
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.multiplier = multiplier
        self.maxBackoff = maxBackoff
    }

    /// The backoff cap before attempt `attempt` (2 for the first retry):
    /// `min(maxBackoff, initialBackoff × multiplier^(attempt − 2))`.
    public func backoffCap(beforeAttempt attempt: Int) -> Duration {
        let initial = Double(initialBackoff.wholeMicroseconds)
        let cap = Double(maxBackoff.wholeMicroseconds)
        var value = initial
        var step = 2
        while step < attempt && value < cap {
            value *= multiplier
            step += 1
        }
        return .microseconds(Int64(min(value, cap)))
    }

    /// The delay before attempt `attempt`: full jitter, a point in `[0, cap]` chosen by a
    /// stable hash of `seed` (the occurrence id), so replaying a decision gives the same delay.
    public func backoff(beforeAttempt attempt: Int, seed: String) -> Duration {
        let cap = backoffCap(beforeAttempt: attempt).wholeMicroseconds
        guard cap > 0 else { return .zero }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in seed.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        hash = (hash ^ UInt64(attempt)) &* 0x100_0000_01B3
        return .microseconds(Int64(hash % UInt64(cap + 1)))
    }
}

/// Whether an occurrence may start while a run of the same task is in flight.
public enum OverlapPolicy: String, Sendable, Hashable, CaseIterable {
    /// Runs may overlap.
    case allow
    /// An occurrence due while a run is in flight is skipped with reason `overlap`.
    case forbid
}

/// What happens to occurrences found due long after their time (after downtime or overload).
public enum MisfirePolicy: Sendable, Hashable {
    /// Run once now for the latest missed occurrence; the others are recorded as skipped.
    case runOnce
    /// Run each missed occurrence, at most `limit`; the rest are skipped.
    case runAll(limit: Int)
    /// Skip them all; the next future occurrence is scheduled.
    case skip

    /// The name used in the API and in stored events.
    public var name: String {
        switch self {
        case .runOnce: "runOnce"
        case .runAll: "runAll"
        case .skip: "skip"
        }
    }
}
