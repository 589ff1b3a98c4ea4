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
            case .created, .updated: #expect(encoded.schemaVersion == 2)
            default: #expect(encoded.schemaVersion == 1)
            }
            let decoded = try EventCodec.decode(
                type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload, taskID: taskA, at: event.at
            )
            #expect(decoded == event, "\(kind.typeName)")
        }
    }

    /// `TaskCreated`/`TaskUpdated` v1 (written before namespaces) read as the default
    /// namespace: the v2 payload without its trailing namespace is a v1 payload.
    @Test func definitionsWrittenBeforeNamespacesReadAsTheDefaultNamespace() throws {
        for kind in Self.kinds {
            guard case .created(var definition, let next) = kind else { continue }
            definition.namespace = "billing"
            let event = TaskEvent(taskID: taskA, at: t0, actor: "alice", kind: .created(definition, nextDueAt: next))
            let v2 = EventCodec.encode(event)
            #expect(try EventCodec.decode(type: v2.type, schemaVersion: 2, payload: v2.payload, taskID: taskA, at: t0) == event)
            // Cut the namespace (and keep nextDueAt) by writing the v1 layout by hand: encode with
            // the default namespace, then drop its string from the end of the definition.
            definition.namespace = TaskDefinition.defaultNamespace
            let plain = EventCodec.encode(TaskEvent(taskID: taskA, at: t0, actor: "alice", kind: .created(definition, nextDueAt: nil)))
            // The last bytes: namespace string ("default": a length prefix and 7 bytes), then nextDueAt's absent marker.
            var writer = BinaryWriter()
            writer.write(TaskDefinition.defaultNamespace)
            let namespaceBytes = writer.bytes.count
            var v1 = Array(plain.payload.dropLast(namespaceBytes + 1))
            v1.append(plain.payload.last!)
            let decoded = try EventCodec.decode(type: "TaskCreated", schemaVersion: 1, payload: v1, taskID: taskA, at: t0)
            guard case .created(let read, nil) = decoded.kind else { Issue.record("decoded \(decoded.kind)"); continue }
            #expect(read.namespace == TaskDefinition.defaultNamespace)
            #expect(read.name == definition.name)
            #expect(throws: EventDecodingError.self) {
                try EventCodec.decode(type: "TaskPaused", schemaVersion: 2, payload: [], taskID: taskA, at: t0)
            }
        }
    }

    @Test func typeNamesAreTheStorageContract() {
        // Renaming one of these breaks every journal written so far.
        #expect(Set(Self.kinds.map(\.typeName)) == [
            "TaskCreated", "TaskUpdated", "TaskPaused", "TaskResumed", "TaskDeleted", "TaskCompleted",
            "RunTriggered", "RunStarted", "RunSucceeded", "RunFailed", "RunRetryScheduled", "OccurrenceSkipped",
        ])
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
