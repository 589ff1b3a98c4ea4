import AlmanacTesting
import Foundation
import Journal
import Testing

/// Kills a process that appends in a loop, at random instants, and checks that every
/// append it acknowledged is there, intact and in place.
@Suite("Journal crash safety", .serialized)
struct CrashTests {
    @Test(.timeLimit(.minutes(3)))
    func everyAcknowledgedAppendSurvivesSIGKILL() async throws {
        let torture = try BuiltProduct.path("journal-torture")
        var generator = SeededRandom(seed: 0x5EED_CAFE)
        try await TemporaryDirectory.with(prefix: "almanac-crash") { path in
            var allAcks: [(stream: String, version: UInt64, first: UInt64, last: UInt64)] = []
            let rounds = 24
            for round in 1...rounds {
                let child = try ChildProcess(executable: torture, arguments: [path, "12", "\(1 << 30)", "300"])
                let started = await child.waitFor(timeout: 30) { lines in lines.contains { $0.hasPrefix("ack ") } }
                #expect(started, "round \(round): the torture process acknowledged nothing")
                // Kill at a random instant after the first acknowledgement: 0–120 ms in.
                usleep(UInt32.random(in: 0...120_000, using: &generator))
                child.send(SIGKILL)
                let (lines, status) = await child.waitForExit()
                #expect(status == SIGKILL, "round \(round): exited with \(status), not by SIGKILL")
                for line in lines where line.hasPrefix("ack ") {
                    let parts = line.split(separator: " ")
                    try #require(parts.count == 5, "malformed line \(line)")
                    allAcks.append((String(parts[1]), UInt64(parts[2])!, UInt64(parts[3])!, UInt64(parts[4])!))
                }
                try await check(path: path, acknowledged: allAcks, round: round)
            }
            #expect(allAcks.count > rounds * 10)
        }
    }

    private func check(
        path: String,
        acknowledged: [(stream: String, version: UInt64, first: UInt64, last: UInt64)],
        round: Int
    ) async throws {
        // Read-only, so the next round's writer rebuilds the unindexed tail left by the kill.
        let journal = try LMDBJournal(directory: path, configuration: .init(readOnly: true))
        defer { journal.close() }
        let report = try journal.verifyIntegrity()
        #expect(report.isClean, "round \(round): \(report.problems.prefix(5))")
        for ack in acknowledged {
            let count = Int(ack.last - ack.first) + 1
            let firstVersion = ack.version - UInt64(count) + 1
            let stored = try journal.readStream(StreamID(ack.stream), after: firstVersion - 1, limit: count)
            #expect(stored.count == count, "round \(round): \(ack.stream) v\(ack.version) lost")
            for (offset, event) in stored.enumerated() {
                #expect(event.position == ack.first + UInt64(offset))
                #expect(event.payload == TorturePayload.bytes(stream: StreamID(ack.stream), version: event.streamVersion))
            }
        }
    }
}
