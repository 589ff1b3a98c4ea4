import Foundation
import Synchronization

/// A zone's UTC offsets as a table of transitions, so the cron search never calls into the
/// (slow, on Linux) Foundation time zone code on its hot path.
///
/// Built once per zone identifier from `TimeZone.nextDaylightSavingTimeTransition(after:)` and
/// `secondsFromGMT(for:)`, covering `coverage`; shared by every schedule in that zone.
final class ZoneRules: Sendable {
    /// The instants the table is exact for: 1900-01-01T00:00:00Z up to 2400-01-01T00:00:00Z.
    static let coverage: Range<Int64> = -2_208_988_800..<13_569_465_600

    /// UTC seconds at which `offsets[i + 1]` takes over from `offsets[i]`; strictly increasing.
    let transitions: [Int64]
    /// Seconds east of UTC; `offsets[i]` applies from `transitions[i - 1]` until `transitions[i]`.
    let offsets: [Int64]

    private init(timeZone: TimeZone) {
        let start = Date(timeIntervalSince1970: Double(ZoneRules.coverage.lowerBound))
        var transitions: [Int64] = []
        var offsets = [Int64(timeZone.secondsFromGMT(for: start))]
        var cursor = start
        while let next = timeZone.nextDaylightSavingTimeTransition(after: cursor), next > cursor {
            let seconds = Int64(next.timeIntervalSince1970.rounded())
            guard seconds < ZoneRules.coverage.upperBound else { break }
            let offset = Int64(timeZone.secondsFromGMT(for: next))
            // Some transitions only change the abbreviation or the DST flag; they do not split
            // wall-clock time, so they are not segments for the search.
            if offset != offsets[offsets.count - 1], seconds > (transitions.last ?? .min) {
                transitions.append(seconds)
                offsets.append(offset)
            }
            cursor = next
        }
        self.transitions = transitions
        self.offsets = offsets
    }

    /// The index into `offsets` of the segment containing `utcSeconds`.
    func segment(containing utcSeconds: Int64) -> Int {
        var low = 0
        var high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= utcSeconds { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Seconds east of UTC at `utcSeconds`.
    func offset(at utcSeconds: Int64) -> Int64 {
        offsets[segment(containing: utcSeconds)]
    }

    // MARK: - Shared tables

    /// Tables already built, by zone identifier. A memo, not state: a table is a pure function
    /// of the zone data, so sharing it cannot change any result.
    private static let built = Mutex<[String: ZoneRules]>([:])

    /// The table for `timeZone`, built on first use.
    static func rules(for timeZone: TimeZone) -> ZoneRules {
        let identifier = timeZone.identifier
        if let cached = built.withLock({ $0[identifier] }) { return cached }
        let rules = ZoneRules(timeZone: timeZone)
        return built.withLock { table in
            if let raced = table[identifier] { return raced }
            table[identifier] = rules
            return rules
        }
    }
}
