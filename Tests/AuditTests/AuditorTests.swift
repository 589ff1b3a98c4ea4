import Audit
import Journal
import Projections
import Scheduling
import Testing

/// The auditor's rules, on hand-made event sequences that break them one at a time.
@Suite("Auditor rules")
struct AuditorTests {
    private let start = Instant(rfc3339: "2026-01-01T00:00:00Z")!
    private let task = TaskID("t")

    private var definition: TaskDefinition {
        TaskDefinition(name: "t", schedule: Schedule(.interval(every: .seconds(10), anchor: start)),
                       action: WebhookAction(url: "http://127.0.0.1:9/"))
    }

    private func records(_ kinds: [(Int64, TaskEvent.Kind)], versions: [UInt64]? = nil) -> [RecordedEvent] {
        kinds.enumerated().map { index, item in
            let event = TaskEvent(taskID: task, at: start + .seconds(item.0), actor: "test", kind: item.1)
            let encoded = EventCodec.encode(event)
            return RecordedEvent(
                position: UInt64(index + 1), streamID: StreamID(task.rawValue), streamVersion: versions?[index] ?? UInt64(index + 1),
                type: encoded.type, schemaVersion: encoded.schemaVersion, recordedAt: event.at.microsecondsSinceEpoch,
                payload: encoded.payload, checksum: 0
            )
        }
    }

    private func start(_ second: Int64, attempt: Int = 1) -> TaskEvent.Kind {
        let scheduled = start + .seconds(second)
        let occurrence = OccurrenceID.scheduled(task, at: scheduled)
        return .runStarted(RunStart(
            run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: scheduled, dueAt: scheduled,
            attempt: attempt, occurrenceKind: .scheduled, nextDueAt: scheduled + .seconds(10)))
    }

    private func succeeded(_ second: Int64) -> TaskEvent.Kind {
        .runSucceeded(run: RunID(.scheduled(task, at: start + .seconds(second)), attempt: 1), outcome: RunOutcome(statusCode: 200))
    }

    private func audit(_ records: [RecordedEvent], grace: Duration = .seconds(60)) -> [String] {
        var auditor = Auditor()
        for record in records { auditor.apply(record) }
        return auditor.findings.map(\.message) + auditor.finish(grace: grace).problems.map(\.message)
    }

    @Test func aLegalHistoryHasNoFindings() {
        let findings = audit(records([
            (0, .created(definition, nextDueAt: start + .seconds(10))),
            (10, start(10)), (11, succeeded(10)), (20, start(20)), (21, succeeded(20)),
        ]))
        #expect(findings.isEmpty, "\(findings)")
    }

    @Test func eachBrokenRuleIsNamed() {
        let created: (Int64, TaskEvent.Kind) = (0, .created(definition, nextDueAt: start + .seconds(10)))
        let cases: [([(Int64, TaskEvent.Kind)], String)] = [
            ([created, (10, start(10)), (11, succeeded(10)), (12, succeeded(10))], "not in flight"),
            ([created, (10, start(10)), (11, start(10))], "claimed twice"),
            ([created, (20, start(20))], "was passed over"),
            ([created, (5, .paused), (6, .paused)], "TaskPaused while the task was paused"),
            ([created, (5, .resumed(nextDueAt: nil))], "TaskResumed while the task was active"),
            ([(0, .paused)], "never created"),
            ([created, (1, .deleted), (2, .paused)], "after the task was deleted"),
            ([created, (500, .runTriggered(trigger: "x", occurrence: .manual(task, trigger: "x")))], "fell due before the journal's last instant"),
        ]
        for (history, expected) in cases {
            let findings = audit(records(history))
            #expect(findings.contains { $0.contains(expected) }, "expected “\(expected)” in \(findings)")
        }
        // A run whose timeout (30 s) and the grace (60 s) passed while the journal went on
        // lost its outcome; one still within them is in flight, not a problem.
        let lost = audit(records([created, (10, start(10)), (11, .paused), (200, .resumed(nextDueAt: start + .seconds(210)))]))
        #expect(lost.contains { $0.contains("has no outcome by the journal's last instant") && $0.contains("its outcome was lost") }, "\(lost)")
        let running = audit(records([created, (10, start(10)), (11, .paused), (95, .resumed(nextDueAt: start + .seconds(100)))]))
        #expect(running.isEmpty, "\(running)")
        let wrongVersion = audit(records([created, (10, start(10))], versions: [1, 3]))
        #expect(wrongVersion.contains { $0.contains("stream version 3, expected 2") })
    }
}
