import Foundation
import Testing

@testable import Scheduling

@Suite("Cron Codable")
struct CronCodableTests {
    @Test("a schedule round-trips as its source text and zone identifier")
    func roundTrip() throws {
        let original = try schedule("0 30 2 * * *", "Europe/Lisbon")
        let data = try JSONEncoder().encode(original)
        let json = try #require(JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(json == ["expression": "0 30 2 * * *", "timeZone": "Europe/Lisbon"])
        #expect(try JSONDecoder().decode(CronSchedule.self, from: data) == original)
    }

    @Test("decoding invalid text fails with the parser's message")
    func invalid() throws {
        let data = Data(#"{"expression": "0 0 31 4 *", "timeZone": "UTC"}"#.utf8)
        do {
            _ = try JSONDecoder().decode(CronSchedule.self, from: data)
            Issue.record("decoded an impossible expression")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains("day-of-month"))
        }
        let zone = Data(#"{"expression": "@daily", "timeZone": "Nowhere/Town"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CronSchedule.self, from: zone) }
    }
}
