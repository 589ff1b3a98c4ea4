import Foundation
import Testing

@testable import Scheduling

@Suite("Event codec")
struct EventCodecTests {
    static let rich: TaskDefinition = {
        let cron = try! CronSchedule(expression: CronExpression("0 30 2 * * *"), timeZoneIdentifier: "Europe/Lisbon")
        return TaskDefinition(
            name: "nightly-report",
            description: "Sends the report — with accents: é, and emoji 📅",
            labels: ["team": "billing", "tier": "gold"],
            schedule: Schedule(.cron(cron), startAt: instant("2026-12-01T00:00:00Z"), endAt: instant("2027-12-01T00:00:00Z")),
            action: WebhookAction(
                url: "https://example.invalid/hooks/report?x=1",
                method: "PUT",
                headers: [.init(name: "X-Team", value: "billing"), .init(name: "X-Trace", value: "")],
                body: "{\"run\":\"{{runId}}\"}",
                timeout: .milliseconds(2500)
            ),
            retry: RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(500), multiplier: 1.5, maxBackoff: .seconds(90)),
            overlap: .forbid,
            misfire: .runAll(limit: 100)
        )
    }()

    static let occurrence = OccurrenceID.scheduled(taskA, at: instant("2026-12-02T02:30:00Z"))

    static let kinds: [TaskEvent.Kind] = [
        .created(rich, nextDueAt: instant("2026-12-02T02:30:00Z")),
        .updated(
            TaskDefinition(
                name: "every",
                schedule: Schedule(.interval(every: .seconds(90), anchor: instant("2026-11-23T00:00:00Z"))),
                action: WebhookAction(url: "http://127.0.0.1:8080/"),
                misfire: .skip
            ),
            nextDueAt: nil
        ),
        .updated(oneTime(at: instant("2027-01-01T00:00:00Z")), nextDueAt: instant("2027-01-01T00:00:00Z")),
        .paused,
        .resumed(nextDueAt: instant("2026-12-03T02:30:00Z")),
        .resumed(nextDueAt: nil),
        .deleted,
        .completed,
        .runTriggered(trigger: "op-7", occurrence: .manual(taskA, trigger: "op-7")),
        .runStarted(RunStart(
            run: RunID(occurrence, attempt: 2), occurrence: occurrence, scheduledAt: instant("2026-12-02T02:30:00Z"),
            dueAt: instant("2026-12-02T02:30:07Z"), attempt: 2, occurrenceKind: .scheduled, nextDueAt: nil
        )),
        .runStarted(RunStart(
            run: RunID(.manual(taskA, trigger: "t"), attempt: 1), occurrence: .manual(taskA, trigger: "t"),
            scheduledAt: t0, dueAt: t0, attempt: 1, occurrenceKind: .manual, nextDueAt: t0.plus(30)
        )),
        .runSucceeded(run: RunID(occurrence, attempt: 1), outcome: RunOutcome(statusCode: 200, duration: .microseconds(1234), responseExcerpt: "ok")),
        .runFailed(run: RunID(occurrence, attempt: 1), outcome: RunOutcome(error: "connection refused"), interrupted: false),
        .runFailed(run: RunID(occurrence, attempt: 3), outcome: RunOutcome(statusCode: 503, duration: .seconds(2), responseExcerpt: "busy", error: "HTTP 503"), interrupted: true),
        .runRetryScheduled(RetrySchedule(occurrence: occurrence, scheduledAt: t0, attempt: 2, dueAt: t0.plus(3), occurrenceKind: .manual)),
        .occurrenceSkipped(Skip(occurrence: occurrence, scheduledAt: t0, attempt: 1, reason: .misfire, occurrenceKind: .scheduled, nextDueAt: t0.plus(60))),
        .occurrenceSkipped(Skip(occurrence: occurrence, scheduledAt: t0, attempt: 2, reason: .overlap, occurrenceKind: .manual, nextDueAt: nil)),
    ]

    @Test func everyEventKindRoundTrips() throws {
        for (index, kind) in Self.kinds.enumerated() {
            let event = TaskEvent(taskID: taskA, at: t0.plus(Int64(index)), actor: "alice", reason: index.isMultiple(of: 2) ? nil : "because", kind: kind)
            let encoded = EventCodec.encode(event)
            #expect(encoded.type == kind.typeName)
            switch kind {
            case .created, .updated: #expect(encoded.schemaVersion == 3)
            default: #expect(encoded.schemaVersion == 1)
            }
            let decoded = try EventCodec.decode(
                type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload, taskID: taskA, at: event.at
            )
            #expect(decoded == event, "\(kind.typeName)")
        }
    }

    /// `TaskCreated` v1 (before namespaces) and v2 (before sealed secrets), written by hand
    /// in their documented layouts (docs/events.md), read as today's definitions: v1 in the
    /// default namespace, both with plain headers and no signing secret.
    @Test func definitionsWrittenInOlderLayoutsStillRead() throws {
        var definition = Self.rich
        definition.namespace = "billing"
        for version: UInt16 in [1, 2] {
            let payload = Self.legacyCreated(definition, nextDueAt: t0.plus(60), schemaVersion: version)
            let decoded = try EventCodec.decode(type: "TaskCreated", schemaVersion: version, payload: payload, taskID: taskA, at: t0)
            var expected = definition
            if version == 1 { expected.namespace = TaskDefinition.defaultNamespace }
            #expect(decoded == TaskEvent(taskID: taskA, at: t0, actor: "alice", kind: .created(expected, nextDueAt: t0.plus(60))), "v\(version)")
        }
        #expect(throws: EventDecodingError.self) {
            try EventCodec.decode(type: "TaskPaused", schemaVersion: 2, payload: [], taskID: taskA, at: t0)
        }
        #expect(throws: EventDecodingError.self) {
            try EventCodec.decode(type: "TaskCreated", schemaVersion: 4, payload: [], taskID: taskA, at: t0)
        }
    }

    /// A sealed header and a sealed signing secret keep their text and their kind.
    @Test func sealedSecretsRoundTripAsSealed() throws {
        var definition = Self.rich
        definition.action.headers.append(.init(name: "Authorization", sealed: SealedSecret(text: "sealed:v1:00112233aabbccdd:AAAA")))
        definition.action.signingSecret = SealedSecret(text: "sealed:v1:00112233aabbccdd:BBBB")
        let event = TaskEvent(taskID: taskA, at: t0, actor: "alice", kind: .updated(definition, nextDueAt: nil))
        let encoded = EventCodec.encode(event)
        let decoded = try EventCodec.decode(type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload, taskID: taskA, at: t0)
        #expect(decoded == event)
        guard case .updated(let read, _) = decoded.kind else { Issue.record("decoded \(decoded.kind)"); return }
        #expect(read.action.headers.last?.isSecret == true)
        #expect(read.action.headers.first?.plainValue == "billing")
        #expect(read.action.signingSecret?.keyID == "00112233aabbccdd")
        #expect("\(read.action.signingSecret!)" == "sealed(key 00112233aabbccdd)")
    }

    /// The `TaskCreated` payload of schema v1 or v2, as those layouts were written.
    static func legacyCreated(_ definition: TaskDefinition, nextDueAt: Instant?, schemaVersion: UInt16) -> [UInt8] {
        var writer = BinaryWriter()
        writer.write("alice")
        writer.write(nil as String?) { $0.write($1) }
        writer.write(definition.name)
        writer.write(definition.description)
        writer.write(definition.labels.count)
        for key in definition.labels.keys.sorted() {
            writer.write(key)
            writer.write(definition.labels[key]!)
        }
        switch definition.schedule.kind {
        case .once(let at):
            writer.write(UInt8(0))
            writer.write(at)
        case .cron(let cron):
            writer.write(UInt8(1))
            writer.write(cron.expression.source)
            writer.write(cron.timeZoneIdentifier)
        case .interval(let every, let anchor):
            writer.write(UInt8(2))
            writer.write(every)
            writer.write(anchor)
        }
        writer.write(definition.schedule.startAt) { $0.write($1) }
        writer.write(definition.schedule.endAt) { $0.write($1) }
        writer.write(definition.action.url)
        writer.write(definition.action.method)
        writer.write(definition.action.headers.count)
        for header in definition.action.headers {
            writer.write(header.name)
            writer.write(header.plainValue!)
        }
        writer.write(definition.action.body) { $0.write($1) }
        writer.write(definition.action.timeout)
        writer.write(definition.retry.maxAttempts)
        writer.write(definition.retry.initialBackoff)
        writer.write(definition.retry.multiplier)
        writer.write(definition.retry.maxBackoff)
        writer.write(definition.overlap == .forbid)
        switch definition.misfire {
        case .runOnce: writer.write(UInt8(0))
        case .runAll(let limit):
            writer.write(UInt8(1))
            writer.write(limit)
        case .skip: writer.write(UInt8(2))
        }
        if schemaVersion >= 2 { writer.write(definition.namespace) }
        writer.write(nextDueAt) { $0.write($1) }
        return writer.bytes
    }

    @Test func typeNamesAreTheStorageContract() {
        // Renaming one of these breaks every journal written so far.
        #expect(Set(Self.kinds.map(\.typeName)) == [
            "TaskCreated", "TaskUpdated", "TaskPaused", "TaskResumed", "TaskDeleted", "TaskCompleted",
            "RunTriggered", "RunStarted", "RunSucceeded", "RunFailed", "RunRetryScheduled", "OccurrenceSkipped",
        ])
    }

    @Test func typeNamesReadInPlaceAreRecognisedExactly() {
        for type in EventCodec.StoredType.allCases {
            let name = Array(type.rawValue.utf8)
            #expect(name.withUnsafeBytes { EventCodec.StoredType(bytes: $0) } == type)
            // A prefix, a longer name and one changed byte are not the type.
            #expect(name.dropLast().withUnsafeBytes { EventCodec.StoredType(bytes: $0) } == nil)
            #expect((name + [UInt8(ascii: "s")]).withUnsafeBytes { EventCodec.StoredType(bytes: $0) } == nil)
            var changed = name
            changed[changed.count / 2] ^= 0x20
            #expect(changed.withUnsafeBytes { EventCodec.StoredType(bytes: $0) } == nil)
        }
    }

    @Test func damagedPayloadsAreRefusedNotGuessed() {
        let encoded = EventCodec.encode(TaskEvent(taskID: taskA, at: t0, actor: "a", kind: Self.kinds[0]))
        for cut in [0, 1, encoded.payload.count / 2, encoded.payload.count - 1] {
            #expect(throws: EventDecodingError.self) {
                try EventCodec.decode(type: encoded.type, schemaVersion: 1, payload: Array(encoded.payload.prefix(cut)), taskID: taskA, at: t0)
            }
        }
        #expect(throws: EventDecodingError.self) {
            try EventCodec.decode(type: encoded.type, schemaVersion: 1, payload: encoded.payload + [0], taskID: taskA, at: t0)
        }
        #expect(throws: EventDecodingError.self) {
            try EventCodec.decode(type: "TaskRenamed", schemaVersion: 1, payload: encoded.payload, taskID: taskA, at: t0)
        }
        #expect(throws: EventDecodingError.self) {
            try EventCodec.decode(type: encoded.type, schemaVersion: 9, payload: encoded.payload, taskID: taskA, at: t0)
        }
    }
}
