public import Foundation

/// A point in time: microseconds since the Unix epoch, in UTC — the domain's only notion of time.
///
/// Microseconds keep instants exact in an `Int64` (no floating-point drift when stored in the
/// journal) while covering roughly ±292,000 years.
public struct Instant: Sendable, Hashable, Comparable, Codable {
    /// Microseconds since 1970-01-01T00:00:00Z; negative before the epoch.
    public var microsecondsSinceEpoch: Int64

    /// Creates an instant from microseconds since the Unix epoch.
    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    /// Creates an instant from whole seconds since the Unix epoch, clamped to the representable
    /// range (about ±292,000 years) so that untrusted input cannot trap.
    public init(secondsSinceEpoch: Int64) {
        let (product, overflow) = secondsSinceEpoch.multipliedReportingOverflow(by: 1_000_000)
        self.microsecondsSinceEpoch = overflow ? (secondsSinceEpoch < 0 ? .min : .max) : product
    }

    /// Creates an instant from a Foundation date, rounding to the nearest microsecond and clamping
    /// dates outside the representable range.
    public init(_ date: Date) {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        if micros.isNaN {
            self.microsecondsSinceEpoch = 0
        } else if micros >= 9.2e18 {
            self.microsecondsSinceEpoch = .max
        } else if micros <= -9.2e18 {
            self.microsecondsSinceEpoch = .min
        } else {
            self.microsecondsSinceEpoch = Int64(micros)
        }
    }

    /// Whole seconds since the Unix epoch, rounded towards negative infinity.
    public var secondsSinceEpoch: Int64 {
        microsecondsSinceEpoch.floorDivided(by: 1_000_000)
    }

    /// The same instant as a Foundation date (sub-microsecond precision may be lost in `Double`).
    public var date: Date {
        Date(timeIntervalSince1970: Double(microsecondsSinceEpoch) / 1_000_000)
    }

    /// Orders instants chronologically.
    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// The instant `offset` later than `instant`; sub-microsecond parts of the duration are dropped.
    /// Like integer arithmetic, traps on overflow.
    public static func + (instant: Instant, offset: Duration) -> Instant {
        Instant(microsecondsSinceEpoch: instant.microsecondsSinceEpoch + offset.wholeMicroseconds)
    }

    /// The instant `offset` earlier than `instant`; sub-microsecond parts of the duration are dropped.
    /// Like integer arithmetic, traps on overflow.
    public static func - (instant: Instant, offset: Duration) -> Instant {
        Instant(microsecondsSinceEpoch: instant.microsecondsSinceEpoch - offset.wholeMicroseconds)
    }

    /// The elapsed time from `rhs` to `lhs`.
    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .microseconds(lhs.microsecondsSinceEpoch - rhs.microsecondsSinceEpoch)
    }
}

extension Instant: CustomStringConvertible {
    /// ISO 8601 in UTC with microseconds, e.g. `2026-03-08T07:00:00.000000Z`.
    public var description: String {
        let seconds = secondsSinceEpoch
        let micros = (microsecondsSinceEpoch % 1_000_000 + 1_000_000) % 1_000_000
        let civil = CivilDateTime(secondsSinceEpoch: seconds)
        return civil.isoString + "." + String(micros).leftPadded(to: 6) + "Z"
    }
}
