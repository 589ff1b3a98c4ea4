public import Foundation

/// A cron expression evaluated on the wall clock of an IANA time zone.
///
/// Daylight-saving changes follow the ISC/Vixie cron and cronie rule (see `docs/schedules.md`):
/// - a fixed local time skipped by a spring-forward change fires once, at the first instant
///   after the gap (the transition itself);
/// - a fixed local time repeated by a fall-back change fires once, on its first occurrence;
/// - an expression whose hour field is `*` or `*/n` follows elapsed time: it fires in both
///   passes of a repeated hour and has no firing for wall times that do not exist.
///
/// Every other hour field (a number, list, range, or `a/n` step) counts as a fixed local time.
public struct CronSchedule: Sendable, Hashable {
    /// How far ahead `next(after:)` looks before giving up, in years of local time.
    ///
    /// Any expression that parses fires at least once every 40 years (the longest gap is a
    /// 29 February on a given weekday across a non-leap century year), so within the zone
    /// table's range a nil result only happens near its end (year 2400).
    public static let searchHorizonYears: Int64 = 50

    /// The parsed expression and its zone, shared by every copy of the schedule: a million
    /// tasks' definitions each hold a schedule, and the schedules decoded from the journal
    /// come from a memo (`CronScheduleMemo`), so each holds a reference, not 160 bytes.
    private final class Storage: Sendable {
        let expression: CronExpression
        let timeZone: TimeZone
        let timeZoneIdentifier: String
        let zone: ZoneRules

        init(expression: CronExpression, timeZone: TimeZone, identifier: String) {
            self.expression = expression
            self.timeZone = timeZone
            self.timeZoneIdentifier = identifier
            self.zone = ZoneRules.rules(for: timeZone)
        }
    }

    private let storage: Storage

    /// The expression evaluated on local wall-clock time.
    public var expression: CronExpression { storage.expression }
    /// The zone whose wall clock the expression is read in.
    public var timeZone: TimeZone { storage.timeZone }
    /// The zone's name as it was given (`UTC` stays `UTC`, where Foundation would say `GMT`);
    /// stored in events and shown by the API.
    public var timeZoneIdentifier: String { storage.timeZoneIdentifier }

    /// The zone's offsets and transitions, shared by all schedules in the zone.
    private var zone: ZoneRules { storage.zone }

    /// Creates a schedule for an expression in a time zone.
    public init(expression: CronExpression, timeZone: TimeZone) {
        self.init(expression: expression, timeZone: timeZone, identifier: timeZone.identifier)
    }

    private init(expression: CronExpression, timeZone: TimeZone, identifier: String) {
        storage = Storage(expression: expression, timeZone: timeZone, identifier: identifier)
    }

    /// Creates a schedule for an expression in the zone named by an IANA identifier.
    public init(expression: CronExpression, timeZoneIdentifier: String) throws(UnknownTimeZoneError) {
        guard let timeZone = TimeZone(identifier: timeZoneIdentifier) else {
            throw UnknownTimeZoneError(identifier: timeZoneIdentifier)
        }
        self.init(expression: expression, timeZone: timeZone, identifier: timeZoneIdentifier)
    }

    /// Schedules are equal when their expressions are equal and their zones have the same identifier.
    public static func == (lhs: CronSchedule, rhs: CronSchedule) -> Bool {
        lhs.storage === rhs.storage || lhs.expression == rhs.expression && lhs.timeZoneIdentifier == rhs.timeZoneIdentifier
    }

    /// Hashes the expression and the zone identifier.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(expression)
        hasher.combine(timeZoneIdentifier)
    }

    /// The first firing strictly after `instant`, or nil if there is none within
    /// `searchHorizonYears` or before 2400-01-01T00:00:00Z (the end of the zone table).
    ///
    /// Firings fall on whole seconds. The search walks the zone's constant-offset segments in
    /// order; within a segment wall-clock time is monotonic, so the field-by-field wall-clock
    /// search applies directly, and the DST rule only matters at segment edges.
    public func next(after instant: Instant) -> Instant? {
        let rules = expression.rules
        let fixedTime = !rules.hourIsWildcard
        let transitions = zone.transitions
        let offsets = zone.offsets
        let end = ZoneRules.coverage.upperBound
        // Firings are whole seconds, so the first candidate is the next whole second.
        let earliest = instant.secondsSinceEpoch + 1
        guard earliest < end else { return nil }

        // Start in the segment holding the second before `earliest`, so a gap that ends exactly
        // at `earliest` is still seen.
        var index = zone.segment(containing: earliest - 1)
        let lastYear = CivilDateTime(secondsSinceEpoch: earliest + offsets[index]).year
            + CronSchedule.searchHorizonYears
        let horizon = CivilDateTime.days(year: lastYear + 1, month: 1, day: 1) * 86_400
        var memo = MatchMemo()

        while index < offsets.count {
            let offset = offsets[index]
            let segmentEnd = index < transitions.count ? transitions[index] : end
            var from = (index == 0 ? earliest : max(earliest, transitions[index - 1])) + offset
            if fixedTime, index > 0, offsets[index - 1] > offset {
                // After a fall-back, wall times up to the old offset's end were already passed
                // once; a fixed-time expression fired (or not) on that first pass.
                from = max(from, transitions[index - 1] + offsets[index - 1])
            }
            let to = segmentEnd + offset
            if from < to, let local = memo.firstMatch(rules, onOrAfter: from, lastYear: lastYear), local < to {
                return Instant(secondsSinceEpoch: local - offset)
            }
            if fixedTime, index < transitions.count, offsets[index + 1] > offset,
                let local = memo.firstMatch(rules, onOrAfter: to, lastYear: lastYear),
                local < segmentEnd + offsets[index + 1]
            {
                // A fixed time inside a spring-forward gap fires once, as soon as the gap ends.
                return Instant(secondsSinceEpoch: segmentEnd)
            }
            guard segmentEnd < end, to < horizon else { return nil }
            index += 1
        }
        return nil
    }
}

/// Remembers the last wall-clock search so that walking many segments (a yearly expression in
/// a zone with two transitions a year) costs one search rather than one per segment.
private struct MatchMemo {
    private var from = Int64.max
    private var result: Int64?

    /// The first match at or after `start`: reused when the previous search already covered it.
    mutating func firstMatch(_ rules: CronRules, onOrAfter start: Int64, lastYear: Int64) -> Int64? {
        // No match lies in [from, result), so for any start in [from, result] the answer is the same.
        if start >= from, result.map({ start <= $0 }) ?? true {
            return result
        }
        from = start
        result = rules.firstMatch(onOrAfter: start, lastYear: lastYear)
        return result
    }
}

/// How a DST transition changed a cron firing, as the schedule preview reports it.
public enum DSTAdjustment: String, Sendable, Hashable {
    /// The wall time the expression names did not exist (spring-forward); the firing moved to
    /// the first instant after the gap.
    case shifted
    /// The wall time occurs twice (fall-back); a fixed-time expression fires once, at the first.
    case merged
    /// The wall time occurs twice and the expression follows elapsed time: this firing is one
    /// of the two passes.
    case repeated
}

extension CronSchedule {
    /// The zone's offset from UTC, in seconds east, at `instant`.
    public func utcOffset(at instant: Instant) -> Int64 {
        zone.offsets[zone.segment(containing: instant.secondsSinceEpoch)]
    }

    /// Whether a DST transition shifted, merged or repeated the firing at `occurrence` (one of
    /// this schedule's firings), or nil when it fell on an ordinary wall time.
    public func dstAdjustment(at occurrence: Instant) -> DSTAdjustment? {
        let utc = occurrence.secondsSinceEpoch
        let index = zone.segment(containing: utc)
        let local = utc + zone.offsets[index]
        if expression.rules.firstMatch(onOrAfter: local, lastYear: CivilDateTime(secondsSinceEpoch: local).year) != local {
            return .shifted
        }
        // Ambiguous wall time: the same local second also exists in a neighbouring segment.
        let neighbours = [index - 1, index + 1].filter { zone.offsets.indices.contains($0) }
        for other in neighbours {
            let candidate = local - zone.offsets[other]
            if candidate != utc, zone.segment(containing: candidate) == other {
                return expression.followsElapsedTime ? .repeated : .merged
            }
        }
        return nil
    }
}
