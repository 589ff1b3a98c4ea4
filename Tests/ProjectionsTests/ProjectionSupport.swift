import AlmanacTesting
import Foundation
import Journal
import Projections
import Scheduling

let epoch = Instant(secondsSinceEpoch: 1_795_420_800)  // 2026-11-23T08:00:00Z

func seconds(_ value: Int64) -> Instant { Instant(microsecondsSinceEpoch: epoch.microsecondsSinceEpoch + value * 1_000_000) }

func everyMinute(_ name: String = "minutely", retry: RetryPolicy = RetryPolicy(), overlap: OverlapPolicy = .allow) -> TaskDefinition {
    TaskDefinition(
        name: name,
        schedule: Schedule(.interval(every: .seconds(60), anchor: epoch)),
        action: WebhookAction(url: "http://127.0.0.1:9/"),
        retry: retry,
        overlap: overlap
    )
}

/// The write path in miniature, for tests: decide on the live projection's state, append
/// with the task's version as the expected version, then apply the committed events.
struct Harness {
    let journal = InMemoryJournal()
    var live = Projection(runRetention: 5)
    /// How many commands the decider refused, by code.
    var refusals: [String: Int] = [:]

    /// Runs a command; returns the events appended (empty when refused or a no-op).
    @discardableResult
    mutating func run(_ taskID: TaskID, _ action: TaskCommand.Action, at now: Instant, actor: String = "tester") async throws -> [TaskEvent] {
        let state = live.tasks[taskID]
        let events: [TaskEvent]
        do {
            events = try TaskDecider.decide(TaskCommand(taskID: taskID, actor: actor, action: action), state: state, now: now)
        } catch {
            refusals[error.code.rawValue, default: 0] += 1
            return []
        }
        guard !events.isEmpty else { return [] }
        let proposed = events.map { event in
            let encoded = EventCodec.encode(event)
            return ProposedEvent(type: encoded.type, schemaVersion: encoded.schemaVersion, recordedAt: event.at.microsecondsSinceEpoch, payload: encoded.payload)
        }
        let result = try await journal.append(proposed, to: StreamID(taskID.rawValue), expectedVersion: .exactly(state?.version ?? 0))
        for (offset, event) in events.enumerated() {
            live.apply(event, position: result.firstPosition + UInt64(offset), streamVersion: result.streamVersion - UInt64(events.count - 1 - offset))
        }
        return events
    }
}
