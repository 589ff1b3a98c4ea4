import Foundation
import Testing

@testable import Scheduling

/// Replays occurrences computed by croniter (see tools/cron-vectors/generate.py) and expects
/// identical results; shapes where we differ on purpose are not generated.
@Suite("croniter vectors")
struct CroniterVectorTests {
    struct Vectors: Decodable {
        struct Case: Decodable {
            let expression: String
            let croniter: String
            let zone: String
            let start: Int64
            let next: [Int64]
        }
        let seed: Int
        let cases: [Case]
    }

    static let vectorsURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Vectors/croniter-vectors.json")

    @Test("every generated vector matches")
    func vectorsMatch() throws {
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.vectorsURL))
        #expect(vectors.cases.count >= 3_000)
        var failures: [String] = []
        for vector in vectors.cases {
            let schedule: CronSchedule
            do {
                schedule = try CronSchedule(
                    expression: CronExpression(vector.expression), timeZoneIdentifier: vector.zone)
            } catch {
                failures.append("\(vector.expression) [\(vector.zone)]: rejected: \(error)")
                continue
            }
            var cursor = Instant(secondsSinceEpoch: vector.start)
            var actual: [Int64] = []
            for _ in vector.next {
                guard let next = schedule.next(after: cursor) else { break }
                actual.append(next.secondsSinceEpoch)
                cursor = next
            }
            if actual != vector.next {
                let expected = vector.next.map { local(Instant(secondsSinceEpoch: $0), vector.zone) }
                let got = actual.map { local(Instant(secondsSinceEpoch: $0), vector.zone) }
                failures.append(
                    "\(vector.expression) [\(vector.zone)] after \(local(Instant(secondsSinceEpoch: vector.start), vector.zone)): expected \(expected), got \(got)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(vectors.cases.count) vectors differ:\n\(failures.prefix(40).joined(separator: "\n"))")
    }
}
