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
