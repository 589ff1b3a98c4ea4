import Foundation
import Testing

@testable import Scheduling

/// A task that runs every minute at second 0, UTC, calling a local receiver.
func minutely(name: String = "minutely", retry: RetryPolicy = RetryPolicy(), overlap: OverlapPolicy = .allow) throws -> TaskDefinition {
    TaskDefinition(
        name: name,
        schedule: Schedule(.cron(try schedule("0 * * * * *"))),
        action: WebhookAction(url: "http://127.0.0.1:9/hook"),
        retry: retry,
        overlap: overlap
    )
}

/// A one-time task at `at`.
func oneTime(at: Instant) -> TaskDefinition {
    TaskDefinition(name: "once", schedule: Schedule(.once(at)), action: WebhookAction(url: "http://127.0.0.1:9/hook"))
}

let taskA: TaskID = "task-a"
let t0 = instant("2026-11-23T10:00:30Z")

/// Given/when/then for the decider: folds `given` into a state, decides `action` at `now`.
struct Scenario {
    var events: [TaskEvent] = []

    var state: TaskState? {
        events.reduce(nil as TaskState?) { TaskState.evolve($0, $1) }
    }

    /// Decides `action` on the current state at `now` and records the events it emits.
    @discardableResult
    mutating func when(_ action: TaskCommand.Action, at now: Instant, actor: String = "alice", reason: String? = nil)
        throws(DomainError) -> [TaskEvent]
    {
        let command = TaskCommand(taskID: taskA, actor: actor, reason: reason, action: action)
        let emitted = try TaskDecider.decide(command, state: state, now: now)
        events += emitted
        return emitted
    }

    /// Expects `action` at `now` to be refused with `code`, emitting nothing.
    mutating func refuses(_ action: TaskCommand.Action, at now: Instant, _ code: DomainError.Code, sourceLocation: SourceLocation = #_sourceLocation) {
        let before = events.count
        do {
            try when(action, at: now)
            Issue.record("expected \(code), but the command was accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
        }
        #expect(events.count == before, sourceLocation: sourceLocation)
    }
}

/// The type names of `events`.
func names(_ events: [TaskEvent]) -> [String] { events.map(\.kind.typeName) }

extension Instant {
    /// This instant plus `seconds`.
    func plus(_ seconds: Int64) -> Instant { Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + seconds * 1_000_000) }
}
