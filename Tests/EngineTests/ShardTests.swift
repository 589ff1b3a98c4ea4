import AlmanacTesting
import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling
import Testing

/// Shards: the due index split by task, and a scheduler that claims only in the shards its
/// assignment grants, hands shards back only once its runs in them are recorded, and
/// recovers what a previous owner left in flight when it takes a shard over.
@Suite("Shards", .timeLimit(.minutes(2)))
struct ShardTests {
    static let tasks = (0..<40).map { TaskID("t\($0)") }

    static func shard(_ task: TaskID) -> Int { Shards.shard(of: task, count: 4) }

    @Test func aPartitionedDueIndexAnswersLikeOneIndexFilteredByShard() async throws {
        let journal = InMemoryJournal()
        let store = ProjectionStore(journal: journal)
        let commands = CommandService(journal: journal, store: store, clock: ManualClock(now: start))
        for task in Self.tasks { try await commands.execute(TaskCommand(taskID: task, actor: "alice", action: .createTask(everyMinute(task.rawValue)))) }
        var whole = await store.projection
        var split = whole
        split.partitionDueIndex(into: 4)
        #expect(split.dueIndex.shardCount == 4)
        let all = whole.due(at: at(60))
        #expect(all.count == 40)
        #expect(split.due(at: at(60)) == all, "every shard, merged in due order")
        for held in [ShardSet([0]), ShardSet([1, 3]), ShardSet([0, 1, 2, 3]), ShardSet()] {
            let expected = all.filter { held.contains(Self.shard($0.taskID)) }
            #expect(split.due(at: at(60), in: held) == expected, "shards \(held)")
            #expect(split.nextDue(in: held) == expected.first)
        }
        #expect(Set(all.map { Self.shard($0.taskID) }) == [0, 1, 2, 3], "forty tasks reach every shard")
        #expect(whole.nextDue() == split.nextDue())
    }

    @Test func theSchedulerClaimsOnlyInHeldShardsAndTakesUpShardsAsTheyCome() async throws {
        let executor = RecordingExecutor()
        let assignment = ShardAssignment(shardCount: 4, held: [0, 1])
        try await EngineFixture.with(executor: executor, assignment: assignment) { engine in
            for task in Self.tasks { try await engine.run(task, .createTask(everyMinute(task.rawValue))) }
            let inHeld = Self.tasks.filter { [0, 1].contains(Self.shard($0)) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await engine.scheduler.run() }
                engine.clock.advance(to: at(60))
                #expect(await eventually { executor.requests.count == inHeld.count })
                #expect(Set(executor.requests.map(\.taskID)) == Set(inHeld))
                assignment.acquired([2])
                let inThree = Self.tasks.filter { [0, 1, 2].contains(Self.shard($0)) }
                #expect(await eventually { executor.requests.count == inThree.count }, "the occurrences of shard 2 due at 60 fire once it is held")
                #expect(Set(executor.requests.map(\.taskID)) == Set(inThree))
                assignment.lost([0, 1, 2])
                try await Task.sleep(for: .milliseconds(50))  // let the loop see it
                engine.clock.advance(to: at(120))
                try await Task.sleep(for: .milliseconds(100))
                #expect(executor.requests.count == inThree.count, "nothing is claimed in shards lost")
                group.cancelAll()
            }
        }
    }

    @Test func aShardIsHandedBackOnlyOnceItsRunsHereAreRecorded() async throws {
        let executor = GatedExecutor()
        let assignment = ShardAssignment(shardCount: 4, held: [0, 1, 2, 3])
        try await EngineFixture.with(executor: executor, assignment: assignment) { engine in
            for task in Self.tasks { try await engine.run(task, .createTask(everyMinute(task.rawValue))) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await engine.scheduler.run() }
                engine.clock.advance(to: at(60))
                #expect(await eventually { executor.waitingCount == 40 })
                assignment.requestRelease([1])
                try await Task.sleep(for: .milliseconds(100))
                #expect(assignment.takeReleased().isEmpty, "shard 1 has runs in flight here")
                #expect(assignment.view.view.held.contains(1))
                executor.open()
                var released = ShardSet()
                #expect(await eventually { released = released.union(assignment.takeReleased()); return released == [1] })
                #expect(!assignment.view.view.held.contains(1))
                try await engine.store.catchUp()
                #expect(await engine.store.tasks.values.allSatisfy { $0.inFlight.isEmpty }, "every run recorded before the hand-back")
                group.cancelAll()
            }
        }
    }

    @Test func takingOverAShardRecoversTheRunsItsPreviousOwnerLeftInFlight() async throws {
        let journal = InMemoryJournal()
        let clock = ManualClock(now: start)
        let retry = RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1))
        // Node A holds shard 3 and claims its occurrences; its runs never end (it "dies").
        let dying = GatedExecutor()
        let deadAssignment = ShardAssignment(shardCount: 4, held: [3])
        let inThree = Self.tasks.filter { Self.shard($0) == 3 }
        try await EngineFixture.with(journal: journal, clock: clock, executor: dying, assignment: deadAssignment) { nodeA in
            for task in Self.tasks { try await nodeA.run(task, .createTask(everyMinute(task.rawValue, retry: retry))) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await nodeA.scheduler.run() }
                clock.advance(to: at(60))
                #expect(await eventually { dying.waitingCount == inThree.count })
                group.cancelAll()
            }
            deadAssignment.lost([3])
            // Node B takes shard 3 over.
            let executor = RecordingExecutor()
            let assignment = ShardAssignment(shardCount: 4)
            try await EngineFixture.with(journal: journal, clock: clock, executor: executor, assignment: assignment) { nodeB in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await nodeB.scheduler.run() }
                    assignment.acquired([3])
                    try await Task.sleep(for: .milliseconds(100))
                    try await nodeB.store.catchUp()
                    for task in inThree {
                        let state = try #require(await nodeB.store.state(of: task))
                        #expect(state.inFlight.isEmpty && state.lastRun?.result == .interrupted, "\(task)")
                        let recovered = try await nodeB.events(of: task).first { if case .runFailed = $0.kind { true } else { false } }
                        #expect(recovered?.reason == "recovered when its shard was taken over")
                    }
                    clock.advance(to: at(61))
                    #expect(await eventually { executor.requests.count == inThree.count })
                    #expect(executor.requests.allSatisfy { $0.start.attempt == 2 && $0.start.scheduledAt == at(60) }, "retried under the same occurrence")
                    #expect(Set(executor.requests.map(\.taskID)) == Set(inThree))
                    group.cancelAll()
                }
            }
            dying.open()
        }
    }
}
