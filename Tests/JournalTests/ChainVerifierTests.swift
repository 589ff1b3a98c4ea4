import Journal
import Testing

/// The backend-independent check of a journal read through the protocol.
struct ChainVerifierTests {
    static func recorded() async throws -> [RecordedEvent] {
        let journal = InMemoryJournal()
        for index in 0..<6 {
            _ = try await journal.append(
                [ProposedEvent(type: "Tick", recordedAt: Int64(index), payload: Array("tick \(index)".utf8))],
                to: StreamID("s\(index % 2)"), expectedVersion: .any
            )
        }
        return try await journal.read(after: 0, limit: 100)
    }

    static func verify(_ events: [RecordedEvent]) -> IntegrityReport {
        var verifier = ChainVerifier()
        for event in events { verifier.check(event) }
        return verifier.report
    }

    @Test func aSoundJournalIsClean() async throws {
        let report = Self.verify(try await Self.recorded())
        #expect(report.isClean, "\(report.problems)")
        #expect(report.eventCount == 6 && report.head == 6 && report.streamCount == 2)
    }

    @Test func anAlteredPayloadIsFoundAtItsPosition() async throws {
        var events = try await Self.recorded()
        let original = events[3]
        events[3] = RecordedEvent(
            position: original.position, streamID: original.streamID, streamVersion: original.streamVersion, type: original.type,
            schemaVersion: original.schemaVersion, recordedAt: original.recordedAt, payload: Array("tick 9".utf8), checksum: original.checksum
        )
        let report = Self.verify(events)
        #expect(report.problems.map(\.position) == [4])
        #expect(report.problems.first?.message.contains("checksum mismatch") == true)
    }

    @Test func aRemovedEventIsFoundAsAGapAndABrokenChain() async throws {
        var events = try await Self.recorded()
        events.remove(at: 2)
        let report = Self.verify(events)
        let messages = report.problems.filter { $0.position == 4 }.map(\.message)
        #expect(messages.contains { $0.contains("records 3 to 3 are missing") })
        #expect(messages.contains { $0.contains("checksum mismatch") })
        // Position 3 was version 2 of stream s0: its next event (position 5) skips it.
        #expect(report.problems.contains { $0.position == 5 && $0.message.contains("jumps to version 3 where 2 was due") })
    }
}
