import Foundation
import Testing

@testable import Scheduling

@Suite("Instant")
struct InstantTests {
    @Test("converts to and from seconds and Foundation dates")
    func conversions() {
        let instant = Instant(secondsSinceEpoch: 1_772_953_200)
        #expect(instant.microsecondsSinceEpoch == 1_772_953_200_000_000)
        #expect(instant.date == Date(timeIntervalSince1970: 1_772_953_200))
        #expect(Instant(instant.date) == instant)
        #expect(instant.description == "2026-03-08T07:00:00.000000Z")
    }

    @Test("writes RFC 3339 in UTC, fractions only where present, and reads it back")
    func writesRFC3339() throws {
        let cases: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00Z"),
            (1_000, "1970-01-01T00:00:00.001Z"),
            (123_000, "1970-01-01T00:00:00.123Z"),
            (123_456, "1970-01-01T00:00:00.123456Z"),
            (-1, "1969-12-31T23:59:59.999999Z"),
            (-1_000_000, "1969-12-31T23:59:59Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00Z"),
            (253_402_300_799_999_999, "9999-12-31T23:59:59.999999Z"),
            (-62_135_596_800_000_000, "0001-01-01T00:00:00Z"),
        ]
        for (micros, text) in cases {
            let instant = Instant(microsecondsSinceEpoch: micros)
            #expect(instant.rfc3339 == text)
            #expect(Instant(rfc3339: text) == instant)
        }
        // A fixed sequence of instants over the years RFC 3339 can write (a linear congruential walk).
        var state: UInt64 = 7
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let span = UInt64(253_402_300_799_999_999 + 62_135_596_800_000_000)
            let instant = Instant(microsecondsSinceEpoch: Int64(state % span) - 62_135_596_800_000_000)
            #expect(Instant(rfc3339: instant.rfc3339) == instant, "\(instant.microsecondsSinceEpoch)")
        }
    }

    @Test("rounds seconds towards negative infinity before the epoch")
    func negativeSeconds() {
        #expect(Instant(microsecondsSinceEpoch: -1).secondsSinceEpoch == -1)
        #expect(Instant(microsecondsSinceEpoch: -1_000_000).secondsSinceEpoch == -1)
        #expect(Instant(microsecondsSinceEpoch: -1_000_001).secondsSinceEpoch == -2)
        #expect(Instant(microsecondsSinceEpoch: -1).description == "1969-12-31T23:59:59.999999Z")
        #expect(Instant(secondsSinceEpoch: .max).microsecondsSinceEpoch == .max)
        #expect(Instant(secondsSinceEpoch: .min).microsecondsSinceEpoch == .min)
        #expect(Instant(microsecondsSinceEpoch: .min).description.hasSuffix(".224192Z"))
        #expect(Instant(Date(timeIntervalSince1970: 1e300)).microsecondsSinceEpoch == .max)
        #expect(Instant(Date(timeIntervalSince1970: -1e300)).microsecondsSinceEpoch == .min)
    }

    @Test("adds and subtracts durations")
    func arithmetic() {
        let instant = Instant(secondsSinceEpoch: 100)
        #expect(instant + .seconds(5) == Instant(secondsSinceEpoch: 105))
        #expect(instant - .milliseconds(1) == Instant(microsecondsSinceEpoch: 99_999_000))
        #expect(Instant(secondsSinceEpoch: 105) - instant == .seconds(5))
        #expect(Instant(secondsSinceEpoch: 1) < instant)
        #expect(instant + .milliseconds(-1500) == Instant(microsecondsSinceEpoch: 98_500_000))
    }

    @Test("round-trips through Codable")
    func codable() throws {
        let instant = Instant(microsecondsSinceEpoch: 1_234_567)
        let data = try JSONEncoder().encode(instant)
        #expect(String(decoding: data, as: UTF8.self) == "{\"microsecondsSinceEpoch\":1234567}")
        #expect(try JSONDecoder().decode(Instant.self, from: data) == instant)
    }

    @Test("civil arithmetic agrees with known dates")
    func civil() {
        #expect(CivilDateTime.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilDateTime.days(year: 2000, month: 3, day: 1) == 11_017)
        #expect(CivilDateTime.weekday(ofDays: 0) == 4)
        #expect(CivilDateTime.weekday(ofDays: -1) == 3)
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = CivilDateTime.civil(fromDays: days)
            #expect(CivilDateTime.days(year: y, month: m, day: d) == days)
        }
    }
}
