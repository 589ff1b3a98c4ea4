import Scheduling
import Synchronization

/// Token buckets, one per caller (a token's id, or a client address without one): each holds
/// up to `burst` requests and refills at `rate` per second. Time comes from the caller.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: Instant
    }

    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])
    /// Above this many buckets, full ones are dropped (a full bucket is the default state).
    private let sweepAbove = 10_000

    init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(max(1, burst))
    }

    /// Takes one request from `key`'s bucket: nil when allowed, otherwise how long until one is.
    func take(_ key: String, now: Instant) -> Duration? {
        buckets.withLock { buckets in
            if buckets.count > sweepAbove { sweep(&buckets, now: now) }
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = Double((now - bucket.updated).wholeMicroseconds) / 1_000_000
            bucket.tokens = min(burst, bucket.tokens + max(0, elapsed) * rate)
            bucket.updated = max(now, bucket.updated)
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return .microseconds(Int64(((1 - bucket.tokens) / rate * 1_000_000).rounded(.up)))
        }
    }

    private func sweep(_ buckets: inout [String: Bucket], now: Instant) {
        let rate = self.rate
        let burst = self.burst
        buckets = buckets.filter { _, bucket in
            bucket.tokens + Double((now - bucket.updated).wholeMicroseconds) / 1_000_000 * rate < burst
        }
    }
}
