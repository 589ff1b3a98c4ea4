import AlmanacTesting
import Foundation
import Journal
import PostgresJournal
import Testing

/// What only a shared journal has to show: two nodes (two `PostgresJournal`s on one table)
/// appending at once get one contiguous order, and each sees the other's events.
@Suite(.enabled(if: JournalKind.postgresURL != nil, "needs ALMANAC_TEST_POSTGRES_URL (make test starts a server)"))
struct PostgresJournalTests {
    @Test(.timeLimit(.minutes(1)))
    func twoNodesAppendingAtOnceShareOneOrderAndSeeEachOther() async throws {
        let table = "events_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let url = try #require(JournalKind.postgresURL)
        let first = try await PostgresJournal(configuration: .init(url: url, table: table, clock: ContinuousClock()))
        let second = try await PostgresJournal(configuration: .init(url: url, table: table, clock: ContinuousClock()))
        defer { first.close(); second.close() }
        // The second node waits for an event it will not append itself.
        let seen = Task { try await second.waitForEvents(after: 0) }
        _ = try await first.append([ProposedEvent(type: "Hello", recordedAt: 1, payload: [1])], to: "greeting", expectedVersion: .noStream)
        try await seen.value
        let results = try await withThrowingTaskGroup(of: [Result<AppendResult, JournalError>].self) { group in
            for index in 0..<20 {
                let node = index.isMultiple(of: 2) ? first : second
                group.addTask {
                    await node.append([AppendRequest(
                        streamID: StreamID("stream-\(index % 5)"), expectedVersion: .any,
                        events: [ProposedEvent(type: "Tick", recordedAt: Int64(index), payload: Array("\(index)".utf8))]
                    )])
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        let events = try await second.read(after: 0, limit: 100)
        #expect(events.map(\.position) == Array(1...21))
        for stream in 0..<5 {
            #expect(events.filter { $0.streamID.rawValue == "stream-\(stream)" }.map(\.streamVersion) == [1, 2, 3, 4])
        }
        // Both nodes claim the same stream version: the database lets one win.
        let claims = await withTaskGroup(of: Bool.self) { group in
            for node in [first, second] {
                group.addTask {
                    (try? await node.append([ProposedEvent(type: "Claim", recordedAt: 2, payload: [])], to: "greeting", expectedVersion: .exactly(1))) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(claims.filter { $0 }.count == 1)
        #expect(try await first.head() == 22)
        // The chain the two nodes wrote checks out as one.
        var verifier = ChainVerifier()
        for event in try await first.read(after: 0, limit: 100) { verifier.check(event) }
        #expect(verifier.report.isClean, "\(verifier.report.problems)")
        #expect(verifier.report.eventCount == 22)
    }
}
