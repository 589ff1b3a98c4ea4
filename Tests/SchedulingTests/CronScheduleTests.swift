import Foundation
import Testing

@testable import Scheduling

/// Hand-checked occurrences away from daylight-saving changes (those are in DaylightSavingTests).
@Suite("CronSchedule.next(after:)")
struct CronScheduleTests {
    @Test("returns the first firing strictly after the argument")
    func strictlyAfter() throws {
        let schedule = try schedule("*/15 * * * *")
        #expect(schedule.next(after: instant("2026-01-01T10:15:00Z")) == instant("2026-01-01T10:30:00Z"))
        #expect(schedule.next(after: instant("2026-01-01T10:15:00Z") + .microseconds(1)) == instant("2026-01-01T10:30:00Z"))
        #expect(schedule.next(after: instant("2026-01-01T10:15:00Z") - .microseconds(1)) == instant("2026-01-01T10:15:00Z"))
        #expect(try firings("*/15 * * * *", after: "2026-01-01T23:50:00Z", count: 3)
            == ["2026-01-02T00:00:00+00:00", "2026-01-02T00:15:00+00:00", "2026-01-02T00:30:00+00:00"])
    }

    @Test("seconds field comes first in six-field expressions")
    func seconds() throws {
        #expect(try firings("*/20 * * * * *", after: "2026-01-01T00:00:30Z", count: 3)
            == ["2026-01-01T00:00:40+00:00", "2026-01-01T00:01:00+00:00", "2026-01-01T00:01:20+00:00"])
        #expect(try firings("0 0 9 ? * MON-FRI", after: "2026-01-02T09:00:00Z", count: 2)
            == ["2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"])
    }

    @Test("year rollover")
    func yearRollover() throws {
        #expect(try firings("0 0 1 1 *", after: "2026-12-31T23:59:59Z") == ["2027-01-01T00:00:00+00:00"])
        #expect(try firings("59 23 31 12 *", after: "2026-12-31T23:59:00Z") == ["2027-12-31T23:59:00+00:00"])
        #expect(try firings("@yearly", after: "2026-06-01T00:00:00Z", count: 2)
            == ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"])
    }

    @Test("29 February fires only in leap years, skipping 2100")
    func leapDay() throws {
        #expect(try firings("0 0 29 2 *", after: "2025-01-01T00:00:00Z", count: 2)
            == ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"])
        #expect(try firings("0 0 29 2 *", after: "2096-03-01T00:00:00Z") == ["2104-02-29T00:00:00+00:00"])
        #expect(try firings("0 0 29 2 *", after: "2399-03-01T00:00:00Z") == ["nil"])  // 2400 is past the zone table
    }

    @Test("the longest possible gap (a fifth Monday in February) is within the search horizon")
    func longestGap() throws {
        #expect(try firings("0 0 * 2 1#5", after: "2025-01-01T00:00:00Z") == ["2044-02-29T00:00:00+00:00"])
        #expect(try firings("0 0 * 2 1#5", after: "2072-03-01T00:00:00Z") == ["2112-02-29T00:00:00+00:00"])
    }

    @Test("L is the last day of each month")
    func lastDay() throws {
        #expect(try firings("0 0 L * *", after: "2026-01-15T00:00:00Z", count: 4)
            == ["2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "2026-04-30T00:00:00+00:00"])
        #expect(try firings("0 0 L 2 *", after: "2027-03-01T00:00:00Z") == ["2028-02-29T00:00:00+00:00"])
    }

    @Test("L-n counts back from the last day")
    func lastDayOffset() throws {
        #expect(try firings("0 0 L-3 * *", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-28T00:00:00+00:00", "2026-02-25T00:00:00+00:00", "2026-03-28T00:00:00+00:00", "2026-04-27T00:00:00+00:00"])
        #expect(try firings("0 0 L-28 2 *", after: "2026-01-01T00:00:00Z") == ["2028-02-01T00:00:00+00:00"])
    }

    @Test("nW is the nearest weekday without leaving the month")
    func nearestWeekday() throws {
        // 2026-08-01 is a Saturday: the nearest weekday in August is Monday the 3rd, not 31 July.
        #expect(try firings("0 0 1W * *", after: "2026-07-15T00:00:00Z") == ["2026-08-03T00:00:00+00:00"])
        // 2026-02-01 is a Sunday: Monday the 2nd.
        #expect(try firings("0 0 1W * *", after: "2026-01-15T00:00:00Z") == ["2026-02-02T00:00:00+00:00"])
        // 2026-05-31 is a Sunday: Friday the 29th, not 1 June.
        #expect(try firings("0 0 31W * *", after: "2026-05-01T00:00:00Z") == ["2026-05-29T00:00:00+00:00"])
        // 2026-01-31 is a Saturday: Friday the 30th.
        #expect(try firings("0 0 31W * *", after: "2026-01-01T00:00:00Z") == ["2026-01-30T00:00:00+00:00"])
        // April has no 31st: clamped to the 30th (a Thursday).
        #expect(try firings("0 0 31W 4 *", after: "2026-04-01T00:00:00Z") == ["2026-04-30T00:00:00+00:00"])
        // 2026-02-15 is a Sunday (Monday the 16th); 2026-08-15 a Saturday (Friday the 14th).
        #expect(try firings("0 0 15W 2,8 *", after: "2026-01-01T00:00:00Z", count: 2)
            == ["2026-02-16T00:00:00+00:00", "2026-08-14T00:00:00+00:00"])
        // A weekday 15th is itself: 2026-04-15 is a Wednesday.
        #expect(try firings("0 0 15W 4 *", after: "2026-01-01T00:00:00Z") == ["2026-04-15T00:00:00+00:00"])
    }

    @Test("specials combine in lists")
    func specialsInLists() throws {
        // 1W and 15W in February 2026: the 1st and the 15th are Sundays.
        #expect(try firings("0 0 1W,15W 2 *", after: "2026-01-01T00:00:00Z", count: 2)
            == ["2026-02-02T00:00:00+00:00", "2026-02-16T00:00:00+00:00"])
        // The first Monday or any Friday, January 2026.
        #expect(try firings("0 0 ? 1 1#1,5", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-01-09T00:00:00+00:00"])
        // The 10th, and the last day.
        #expect(try firings("0 0 10,L 2 *", after: "2026-01-01T00:00:00Z", count: 2)
            == ["2026-02-10T00:00:00+00:00", "2026-02-28T00:00:00+00:00"])
    }

    @Test("LW is the last weekday of the month")
    func lastWeekday() throws {
        // January 2026 ends on a Saturday, February on a Saturday, March on a Tuesday, May on a Sunday.
        #expect(try firings("0 0 LW * *", after: "2026-01-01T00:00:00Z", count: 5)
            == ["2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00", "2026-03-31T00:00:00+00:00",
                "2026-04-30T00:00:00+00:00", "2026-05-29T00:00:00+00:00"])
    }

    @Test("wL is the last such weekday of the month")
    func lastGivenWeekday() throws {
        #expect(try firings("0 0 * * 5L", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00", "2026-03-27T00:00:00+00:00"])
        #expect(try firings("0 0 * 7 FRIL", after: "2026-01-01T00:00:00Z") == ["2026-07-31T00:00:00+00:00"])
    }

    @Test("w#k is the k-th such weekday, and months without a fifth one are skipped")
    func nthWeekday() throws {
        #expect(try firings("0 0 * * 1#2", after: "2026-01-01T00:00:00Z", count: 2)
            == ["2026-01-12T00:00:00+00:00", "2026-02-09T00:00:00+00:00"])
        #expect(try firings("0 0 * * MON#5", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-03-30T00:00:00+00:00", "2026-06-29T00:00:00+00:00", "2026-08-31T00:00:00+00:00", "2026-11-30T00:00:00+00:00"])
    }

    @Test("both day fields restricted: a day matches if either does")
    func dayOr() throws {
        // Fridays in January 2026 are the 2nd, 9th, 16th…; the 13th is a Tuesday.
        #expect(try firings("0 0 13 * FRI", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00", "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"])
        #expect(try firings("0 0 L * 1#1", after: "2026-01-01T00:00:00Z", count: 3)
            == ["2026-01-05T00:00:00+00:00", "2026-01-31T00:00:00+00:00", "2026-02-02T00:00:00+00:00"])
    }

    @Test("a day field starting with * is unrestricted, so the other one alone decides (AND)")
    func dayAndWithStarStep() throws {
        // Odd days that are Mondays: 5 and 19 January, 9 and 23 February 2026.
        #expect(try firings("0 0 */2 * MON", after: "2026-01-01T00:00:00Z", count: 4)
            == ["2026-01-05T00:00:00+00:00", "2026-01-19T00:00:00+00:00", "2026-02-09T00:00:00+00:00", "2026-02-23T00:00:00+00:00"])
        #expect(try firings("0 0 ? * MON", after: "2026-01-01T00:00:00Z") == ["2026-01-05T00:00:00+00:00"])
    }

    @Test("a zone without daylight saving shifts wall time by its offset (Asia/Kolkata, +05:30)")
    func fixedOffsetZone() throws {
        #expect(try firings("0 30 2 * * *", "Asia/Kolkata", after: "2026-03-08T00:00:00Z", count: 2)
            == ["2026-03-09T02:30:00+05:30", "2026-03-10T02:30:00+05:30"])
        let schedule = try schedule("0 9 * * *", "Asia/Kolkata")
        #expect(schedule.next(after: instant("2026-01-01T00:00:00Z")) == instant("2026-01-01T03:30:00Z"))
    }

    @Test("instants before the epoch work")
    func beforeEpoch() throws {
        #expect(try firings("0 0 1 1 *", after: "1969-06-01T00:00:00Z") == ["1970-01-01T00:00:00+00:00"])
        #expect(try firings("0 12 * * *", after: "1950-03-01T13:00:00Z") == ["1950-03-02T12:00:00+00:00"])
    }

    @Test("extreme instants neither trap nor loop")
    func extremes() throws {
        let daily = try schedule("0 0 * * *", "Europe/Lisbon")
        #expect(daily.next(after: Instant(microsecondsSinceEpoch: .max)) == nil)
        #expect(daily.next(after: instant("2399-12-31T00:00:00Z")) == nil)
        let early = try #require(daily.next(after: Instant(microsecondsSinceEpoch: .min)))
        #expect(early > Instant(microsecondsSinceEpoch: .min))
        #expect(early < instant("1900-01-01T00:00:00Z"))
    }

    @Test("unknown zones are rejected with a clear error")
    func unknownZone() throws {
        let expression = try CronExpression("@daily")
        #expect(throws: UnknownTimeZoneError(identifier: "Mars/Olympus_Mons")) {
            try CronSchedule(expression: expression, timeZoneIdentifier: "Mars/Olympus_Mons")
        }
        #expect(UnknownTimeZoneError(identifier: "X").description.contains("IANA identifier"))
    }

    @Test("schedules compare by expression and zone identifier")
    func equality() throws {
        let a = try schedule("0 9 * * *", "Europe/Lisbon")
        let b = try schedule("0 9 * * *", "Europe/Lisbon")
        let c = try schedule("0 9 * * *", "UTC")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != c)
    }

    @Test("zone table offsets agree with Foundation hour by hour across several years")
    func zoneTable() throws {
        for identifier in ["America/New_York", "Europe/Lisbon", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia"] {
            let timeZone = try #require(TimeZone(identifier: identifier))
            let rules = ZoneRules.rules(for: timeZone)
            var mismatches = 0
            for seconds in stride(from: Int64(1_262_304_000), to: 1_893_456_000, by: 3_593) {
                let expected = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds))))
                if rules.offset(at: seconds) != expected { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(identifier)")
        }
    }
}
