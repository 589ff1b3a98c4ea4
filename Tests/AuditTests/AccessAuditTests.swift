import Access
import AlmanacTesting
import Audit
import Engine
import Journal
import Scheduling
import Testing

/// The auditor's rules for the access stream.
@Suite struct AccessAuditTests {
    private let now = Instant(rfc3339: "2026-11-23T08:00:00Z")!

    private func record(_ proposed: ProposedEvent, stream: StreamID, version: UInt64, position: UInt64) -> RecordedEvent {
        RecordedEvent(
            position: position, streamID: stream, streamVersion: version, type: proposed.type,
            schemaVersion: proposed.schemaVersion, recordedAt: proposed.recordedAt, payload: proposed.payload, checksum: 0
        )
    }

    @Test func actingWithARevokedTokenAndRevokingTwiceAreFound() throws {
        var random = SeededRandom(seed: 11)
        var state = AccessState()
        let issued = try state.create(name: "ops", role: .admin, namespace: nil, actor: "cli", now: now, using: &random)
        state.apply(issued.event, streamVersion: 1)
        let revoked = try state.revoke("ops", actor: "cli", now: now + .seconds(1), allowingLastAdmin: true)
        let definition = TaskDefinition(
            name: "t", schedule: Schedule(.interval(every: .seconds(60), anchor: now)), action: WebhookAction(url: "http://127.0.0.1:9/")
        )
        let early = TaskEvent(taskID: "a", at: now, actor: "ops", kind: .created(definition, nextDueAt: now + .seconds(60)))
        let late = TaskEvent(taskID: "b", at: now + .seconds(2), actor: "ops", kind: .created(definition, nextDueAt: now + .seconds(60)))

        var clean = Auditor()
        clean.apply(record(AccessEventCodec.encode(issued.event), stream: AccessEvent.streamID, version: 1, position: 1))
        clean.apply(record(ProposedEvent(early), stream: "a", version: 1, position: 2))
        clean.apply(record(AccessEventCodec.encode(revoked), stream: AccessEvent.streamID, version: 2, position: 3))
        #expect(clean.findings.isEmpty, "\(clean.findings)")
        #expect(clean.access.tokens.count == 1)

        var auditor = clean
        auditor.apply(record(ProposedEvent(late), stream: "b", version: 1, position: 4))
        auditor.apply(record(AccessEventCodec.encode(revoked), stream: AccessEvent.streamID, version: 3, position: 5))
        auditor.apply(record(AccessEventCodec.encode(revoked), stream: AccessEvent.streamID, version: 5, position: 6))
        let messages = auditor.findings.map(\.message)
        #expect(messages.contains("ops acted after its token was revoked"))
        #expect(messages.contains { $0.contains("not an active token") })
        #expect(messages.contains { $0.contains("access stream version 5, expected 4") })
    }
}
