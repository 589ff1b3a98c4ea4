import Foundation
import Testing

@testable import Scheduling

/// The DST rule at real transitions (dates checked against the zone data on the machine):
/// fixed local times skipped by spring-forward fire once at the end of the gap; fixed local times
/// repeated by fall-back fire once, on the first pass; `*` / `*/n` hour fields follow elapsed time.
@Suite("Daylight saving")
struct DaylightSavingTests {
    // MARK: - America/New_York: 2026-03-08 02:00 EST → 03:00 EDT, 2026-11-01 02:00 EDT → 01:00 EST

    @Test("New York spring forward: a fixed time in the gap fires once, at 03:00 EDT")
    func newYorkSpringFixed() throws {
        let zone = "America/New_York"
        #expect(try firings("30 2 * * *", zone, after: "2026-03-07T00:00:00-05:00", count: 3)
            == ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"])
        #expect(try firings("0 30 2 * * *", zone, after: "2026-03-07T12:00:00-05:00", count: 2)
            == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"])
        // Several fixed times in the gap still fire only once.
        #expect(try firings("0,30 2 * * *", zone, after: "2026-03-07T12:00:00-05:00", count: 3)
            == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T02:30:00-04:00"])
        // A list hour is a fixed time: 02:30 moves to 03:00, 03:30 is untouched.
        #expect(try firings("30 2,3 * * *", zone, after: "2026-03-07T12:00:00-05:00", count: 2)
            == ["2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"])
        // A fixed minute-step inside a fixed hour is a fixed time too.
        #expect(try firings("*/20 2 * * *", zone, after: "2026-03-07T12:00:00-05:00", count: 2)
            == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"])
    }

    @Test("New York spring forward: the gap firing is found from just before the transition and not repeated")
    func newYorkSpringEdges() throws {
        let schedule = try schedule("30 2 * * *", "America/New_York")
        let transition = instant("2026-03-08T07:00:00Z")
        #expect(schedule.next(after: transition - .milliseconds(500)) == transition)
        #expect(schedule.next(after: transition - .seconds(1)) == transition)
        #expect(local(schedule.next(after: transition), "America/New_York") == "2026-03-09T02:30:00-04:00")
    }

    @Test("New York spring forward: wildcard hours have no firing in the skipped hour")
    func newYorkSpringWildcard() throws {
        let zone = "America/New_York"
        #expect(try firings("0 * * * *", zone, after: "2026-03-08T00:30:00-05:00", count: 3)
            == ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"])
        #expect(try firings("*/30 * * * *", zone, after: "2026-03-08T01:00:00-05:00", count: 3)
            == ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"])
        #expect(try firings("30 */2 * * *", zone, after: "2026-03-08T00:45:00-05:00") == ["2026-03-08T04:30:00-04:00"])
    }

    @Test("New York fall back: a fixed time in the repeated hour fires once, on the first pass")
    func newYorkFallFixed() throws {
        let zone = "America/New_York"
        #expect(try firings("30 1 * * *", zone, after: "2026-10-31T12:00:00-04:00", count: 2)
            == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"])
        #expect(try firings("*/20 1 * * *", zone, after: "2026-11-01T00:30:00-04:00", count: 4)
            == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00", "2026-11-02T01:00:00-05:00"])
        // Starting inside the second pass: the first pass already had its firing.
        #expect(try firings("30 1 * * *", zone, after: "2026-11-01T01:10:00-05:00") == ["2026-11-02T01:30:00-05:00"])
        #expect(try firings("30 1,2 * * *", zone, after: "2026-11-01T01:10:00-05:00") == ["2026-11-01T02:30:00-05:00"])
    }

    @Test("New York fall back: wildcard hours fire in both passes")
    func newYorkFallWildcard() throws {
        let zone = "America/New_York"
        #expect(try firings("0 * * * *", zone, after: "2026-11-01T00:30:00-04:00", count: 4)
            == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"])
        // From the middle of the first pass, the next top of the hour is the second 01:00.
        #expect(try firings("0 * * * *", zone, after: "2026-11-01T01:30:00-04:00") == ["2026-11-01T01:00:00-05:00"])
        #expect(try firings("30 */1 * * *", zone, after: "2026-11-01T01:00:00-04:00", count: 3)
            == ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"])
    }

    // MARK: - Europe/Lisbon: 2026-03-29 01:00 WET → 02:00 WEST, 2026-10-25 02:00 WEST → 01:00 WET

    @Test("Lisbon: gap and repeated hour")
    func lisbon() throws {
        let zone = "Europe/Lisbon"
        #expect(try firings("30 1 * * *", zone, after: "2026-03-28T12:00:00+00:00", count: 2)
            == ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"])
        #expect(try firings("0 30 2 * * *", zone, after: "2026-03-28T12:00:00+00:00", count: 2)
            == ["2026-03-29T02:30:00+01:00", "2026-03-30T02:30:00+01:00"])
        #expect(try firings("0 * * * *", zone, after: "2026-03-29T00:00:00+00:00", count: 2)
            == ["2026-03-29T02:00:00+01:00", "2026-03-29T03:00:00+01:00"])
        #expect(try firings("30 1 * * *", zone, after: "2026-10-24T12:00:00+01:00", count: 2)
            == ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"])
        #expect(try firings("*/30 * * * *", zone, after: "2026-10-25T00:45:00+01:00", count: 5)
            == ["2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-25T01:00:00+00:00",
                "2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00"])
    }

    // MARK: - Australia/Lord_Howe: 30-minute shifts
    // 2026-04-05 02:00 (+11:00) → 01:30 (+10:30); 2026-10-04 02:00 (+10:30) → 02:30 (+11:00)

    @Test("Lord Howe fall back by 30 minutes: 01:30-02:00 repeats")
    func lordHoweFall() throws {
        let zone = "Australia/Lord_Howe"
        #expect(try firings("45 1 * * *", zone, after: "2026-04-04T12:00:00+11:00", count: 2)
            == ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"])
        #expect(try firings("15 1 * * *", zone, after: "2026-04-04T12:00:00+11:00", count: 2)
            == ["2026-04-05T01:15:00+11:00", "2026-04-06T01:15:00+10:30"])
        #expect(try firings("*/15 * * * *", zone, after: "2026-04-05T01:20:00+11:00", count: 6)
            == ["2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30",
                "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30", "2026-04-05T02:15:00+10:30"])
    }

    @Test("Lord Howe spring forward by 30 minutes: 02:00-02:30 is skipped")
    func lordHoweSpring() throws {
        let zone = "Australia/Lord_Howe"
        #expect(try firings("15 2 * * *", zone, after: "2026-10-03T12:00:00+10:30", count: 2)
            == ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"])
        #expect(try firings("0,15 2 * * *", zone, after: "2026-10-03T12:00:00+10:30", count: 2)
            == ["2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"])
        #expect(try firings("45 2 * * *", zone, after: "2026-10-03T12:00:00+10:30") == ["2026-10-04T02:45:00+11:00"])
        #expect(try firings("*/15 * * * *", zone, after: "2026-10-04T01:40:00+10:30", count: 4)
            == ["2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00", "2026-10-04T03:00:00+11:00"])
    }

    // MARK: - Pacific/Apia: 2011-12-30 did not exist (23:59:59 -10:00 on the 29th → 00:00 +14:00 on the 31st)

    @Test("a skipped calendar day: a fixed-time job fires once at the transition, wildcards skip it")
    func apiaSkippedDay() throws {
        let zone = "Pacific/Apia"
        #expect(try firings("0 12 * * *", zone, after: "2011-12-29T00:00:00-10:00", count: 3)
            == ["2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"])
        #expect(try firings("0 */6 * * *", zone, after: "2011-12-29T17:00:00-10:00", count: 2)
            == ["2011-12-29T18:00:00-10:00", "2011-12-31T00:00:00+14:00"])
    }

    // MARK: - Asia/Kolkata: no daylight saving

    @Test("Kolkata has no shifts: 02:30 fires every day")
    func kolkata() throws {
        #expect(try firings("30 2 * * *", "Asia/Kolkata", after: "2026-03-07T00:00:00+05:30", count: 3)
            == ["2026-03-07T02:30:00+05:30", "2026-03-08T02:30:00+05:30", "2026-03-09T02:30:00+05:30"])
    }

    // MARK: - Properties over a whole year

    static let zones = ["America/New_York", "Europe/Lisbon", "Australia/Lord_Howe", "Asia/Kolkata"]

    @Test("a daily fixed-time job fires exactly once on every local day of 2026", arguments: zones)
    func dailyOncePerDay(zone: String) throws {
        let timeZone = try #require(TimeZone(identifier: zone))
        for hour in 0..<24 {
            for minute in [0, 15, 30, 45] {
                let schedule = try schedule("\(minute) \(hour) * * *", zone)
                let first = CivilDateTime.days(year: 2026, month: 1, day: 1)
                var cursor = instant("2025-12-31T00:00:00Z")
                var days: [Int64] = []
                while true {
                    let next = try #require(schedule.next(after: cursor))
                    let offset = Int64(timeZone.secondsFromGMT(for: next.date))
                    let day = (next.secondsSinceEpoch + offset).floorDivided(by: 86_400)
                    if day >= first + 365 { break }
                    if day >= first { days.append(day) }
                    cursor = next
                }
                let expected = Array(first..<first + 365)
                let firstDifference = zip(days, expected).first { $0 != $1 }
                #expect(
                    days == expected,
                    "\(minute) \(hour) * * * in \(zone): \(days.count) firings, first difference \(String(describing: firstDifference))")
            }
        }
    }

    @Test("an hourly wildcard job fires on elapsed time: every top of the hour that exists", arguments: zones)
    func hourlyFollowsElapsedTime(zone: String) throws {
        let timeZone = try #require(TimeZone(identifier: zone))
        let schedule = try schedule("0 * * * *", zone)
        var cursor = instant("2026-01-01T00:00:00Z")
        let end = instant("2027-01-01T00:00:00Z")
        var count = 0
        while let next = schedule.next(after: cursor), next < end {
            // Each firing is a real local top of the hour…
            let offset = Int64(timeZone.secondsFromGMT(for: next.date))
            #expect((next.secondsSinceEpoch + offset) % 3_600 == 0)
            // …and at most 90 minutes after the previous one (60, or 90 across a 30-minute shift).
            #expect(next - cursor <= .seconds(5_400))
            count += 1
            cursor = next
        }
        // Independently: every half-hour instant of the year whose local time is a top of the hour
        // (all four zones have offsets in whole half hours, so no firing can lie in between).
        var expected = 0
        var probe = instant("2026-01-01T00:30:00Z")
        while probe < end {
            let offset = Int64(timeZone.secondsFromGMT(for: probe.date))
            if (probe.secondsSinceEpoch + offset) % 3_600 == 0 { expected += 1 }
            probe = probe + .seconds(1_800)
        }
        #expect(count == expected, "\(zone)")
    }
}
