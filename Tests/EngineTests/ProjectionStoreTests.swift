import AlmanacTesting
@testable import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling
import Testing

@Suite("Projection store")
struct ProjectionStoreTests {
    /// Decides `command` on the task's current state in `store`.
    private func decide(_ command: TaskCommand, on store: ProjectionStore, now: Instant) async throws -> ([TaskEvent], AppendRequest) {
        let state = await store.state(of: command.taskID)
        let events = try TaskDecider.decide(command, state: state, now: now)
        return (events, AppendRequest(events, decidedOn: state, task: command.taskID))
    }

    /// Events the process appended itself are applied as decided; where another writer's
    /// events come between them, those are read from the journal first; a failed append is
    /// passed over. The result equals a replay of the journal.
    @Test func appliesItsOwnAppendsAndReadsWhatOthersWroteBetween() async throws {
        let journal = InMemoryJournal()
        let store = ProjectionStore(journal: journal)
        let now = at(0)
        let (createdA, requestA) = try await decide(TaskCommand(taskID: "a", actor: "alice", action: .createTask(everyMinute("a"))), on: store, now: now)
        let (createdC, requestC) = try await decide(TaskCommand(taskID: "c", actor: "alice", action: .createTask(everyMinute("c"))), on: store, now: now)
        // Another writer's task, appended between the two.
        let other = ProjectionStore(journal: journal)
        let (_, requestB) = try await decide(TaskCommand(taskID: "b", actor: "bob", action: .createTask(everyMinute("b"))), on: other, now: now)
        let first = await journal.append([requestA])
        let between = await journal.append([requestB])
        let last = await journal.append([requestC, requestC])  // the second loses: the stream exists
        #expect(between.allSatisfy { if case .success = $0 { true } else { false } })
        guard case .failure = last[1] else {
            Issue.record("a second creation of c was expected to fail")
            return
        }
        try await store.apply(appended: [createdA, createdC, createdC], results: [first[0], last[0], last[1]])
        let rebuilt = try await Replay.build(from: journal)
        let live = await store.digest()
        #expect(live.position == 3)
        #expect(live.position == rebuilt.position)
        #expect(live.digest == rebuilt.digest)
        #expect(await store.state(of: "b") != nil, "the other writer's task was read from the journal")
        // Applying again (a catch-up got there first) changes nothing.
        try await store.apply(appended: [createdA], results: [first[0]])
        #expect(await store.digest().digest == rebuilt.digest)
    }

    /// A snapshot is written once the projection has moved far enough past the last, not
    /// before and not twice; a start from it plus the tail equals the live projection.
    @Test func snapshotsAreWrittenEveryFewEventsAndStartTheSameProjection() async throws {
        let journal = InMemoryJournal()
        let store = ProjectionStore(journal: journal)
        let writer = SnapshotWriter(
            store: store, snapshots: journal, clock: ManualClock(now: at(0)), configuration: .init(every: 3),
            lastPosition: 0, logger: Logger(label: "test")
        )
        func create(_ id: TaskID) async throws {
            let (_, request) = try await decide(TaskCommand(taskID: id, actor: "alice", action: .createTask(everyMinute(id.rawValue))), on: store, now: at(0))
            _ = await journal.append([request])
            try await store.catchUp()
        }
        try await create("a")
        try await create("b")
        #expect(try await writer.write(ifBehindBy: 3) == nil, "two events: not yet")
        try await create("c")
        #expect(try await writer.write(ifBehindBy: 3) == 3)
        #expect(try await journal.latestSnapshot(atOrBefore: .max)?.position == 3)
        #expect(try await writer.write(ifBehindBy: 1) == nil, "nothing applied since")
        #expect(writer.lastPosition == 3)
        try await create("d")
        let (resumed, used) = try await Replay.fromSnapshot(of: journal)
        #expect(used == 3)
        #expect(resumed == (await store.projection))
    }
}
