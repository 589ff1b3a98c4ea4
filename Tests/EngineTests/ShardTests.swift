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

    @Test func aShardIsHandedBackAtOnceAndItsRunsHereAreStillRecordedHere() async throws {
        let executor = GatedExecutor()
        let assignment = ShardAssignment(shardCount: 4, held: [0, 1, 2, 3])
        try await EngineFixture.with(executor: executor, assignment: assignment) { engine in
            for task in Self.tasks { try await engine.run(task, .createTask(everyMinute(task.rawValue))) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await engine.scheduler.run() }
                engine.clock.advance(to: at(60))
                #expect(await eventually { executor.waitingCount == 40 })
                assignment.requestRelease([1])
                var released = ShardSet()
                #expect(await eventually { released = released.union(assignment.takeReleased()); return released == [1] })
                #expect(!assignment.view.view.held.contains(1), "handed back with its runs still running here")
                executor.open()
                #expect(await eventually { await engine.store.tasks.values.allSatisfy { $0.inFlight.isEmpty } })
                #expect(await engine.store.tasks.values.allSatisfy { $0.lastRun?.result == .succeeded }, "recorded here, as they ended")
                group.cancelAll()
            }
        }
    }

    /// Node A claims in shard 3 and its runs hang; B takes shard 3 over. With A dead, B
    /// recovers the runs once their start plus the webhook timeout (30 s) and the margin (5 s)
    /// have passed —
    /// not before — and they are retried under the same occurrence. New occurrences fire at once.
    @Test func takingOverAShardRecoversTheRunsItsPreviousOwnerLeftInFlightOnceTheirTimeoutPasses() async throws {
        let journal = InMemoryJournal()
        let clock = ManualClock(now: start)
        let retry = RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1))
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
            let executor = RecordingExecutor()
            let assignment = ShardAssignment(shardCount: 4)
            try await EngineFixture.with(journal: journal, clock: clock, executor: executor, assignment: assignment) { nodeB in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await nodeB.scheduler.run() }
                    assignment.acquired([3])
                    #expect(await eventually { clock.earliestDeadline == at(95) }, "asleep until 60 + 30 s timeout + 5 s margin")
                    clock.advance(to: at(94))
                    try await Task.sleep(for: .milliseconds(50))
                    try await nodeB.store.catchUp()
                    for task in inThree { #expect(await nodeB.store.state(of: task)?.inFlight.count == 1, "not recovered before its timeout") }
                    clock.advance(to: at(95))
                    #expect(await eventually {
                        try? await nodeB.store.catchUp()
                        var all = true
                        for task in inThree where await nodeB.store.state(of: task)?.lastRun?.result != .interrupted { all = false }
                        return all
                    })
                    for task in inThree {
                        let recovered = try await nodeB.events(of: task).first { if case .runFailed = $0.kind { true } else { false } }
                        #expect(recovered?.reason == "recovered when its shard was taken over")
                    }
                    clock.advance(to: at(96))
                    #expect(await eventually { executor.requests.count == inThree.count })
                    #expect(executor.requests.allSatisfy { $0.start.attempt == 2 && $0.start.scheduledAt == at(60) }, "retried under the same occurrence")
                    clock.advance(to: at(120))
                    #expect(await eventually { executor.requests.count == 2 * inThree.count }, "the next occurrences fire")
                    group.cancelAll()
                }
            }
            dying.open()
        }
    }

    /// A live previous owner records its runs after handing the shard back: the new owner
    /// finds them recorded when their timeout passes, and recovers nothing.
    @Test func runsOfALivePreviousOwnerAreNotRecovered() async throws {
        let journal = InMemoryJournal()
        let clock = ManualClock(now: start)
        let slow = GatedExecutor()
        let first = ShardAssignment(shardCount: 4, held: [3])
        let inThree = Self.tasks.filter { Self.shard($0) == 3 }
        try await EngineFixture.with(journal: journal, clock: clock, executor: slow, assignment: first) { nodeA in
            for task in Self.tasks { try await nodeA.run(task, .createTask(everyMinute(task.rawValue))) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await nodeA.scheduler.run() }
                clock.advance(to: at(60))
                #expect(await eventually { slow.waitingCount == inThree.count })
                first.requestRelease([3])
                #expect(await eventually { first.takeReleased() == [3] })
                let executor = RecordingExecutor()
                let second = ShardAssignment(shardCount: 4)
                try await EngineFixture.with(journal: journal, clock: clock, executor: executor, assignment: second) { nodeB in
                    try await withThrowingTaskGroup(of: Void.self) { inner in
                        inner.addTask { try await nodeB.scheduler.run() }
                        second.acquired([3])
                        #expect(await eventually { clock.earliestDeadline == at(95) })
                        slow.open()  // A's calls end; A records them
                        #expect(await eventually {
                            try? await nodeB.store.catchUp()
                            var all = true
                            for task in inThree where await nodeB.store.state(of: task)?.lastRun?.result != .succeeded { all = false }
                            return all
                        })
                        clock.advance(to: at(100))
                        try await Task.sleep(for: .milliseconds(100))
                        for task in inThree {
                            #expect(try await nodeB.names(of: task) == ["TaskCreated", "RunStarted", "RunSucceeded"], "nothing recovered")
                        }
                        inner.cancelAll()
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// The new owner runs the same task again (every 20 s, calls that hang) while the dead
    /// owner's run waits for its timeout: that run alone is recovered, the new owner's own
    /// runs are left running.
    @Test func aRunLeftInFlightIsRecoveredEvenWhileTheNewOwnerRunsTheSameTask() async throws {
        let journal = InMemoryJournal()
        let clock = ManualClock(now: start)
        var definition = everyMinute("often")
        definition.schedule = Schedule(.interval(every: .seconds(20), anchor: start))
        let task: TaskID = "often"
        let shard = Self.shard(task)
        let dying = GatedExecutor()
        let dead = ShardAssignment(shardCount: 4, held: [shard])
        try await EngineFixture.with(journal: journal, clock: clock, executor: dying, assignment: dead) { nodeA in
            try await nodeA.run(task, .createTask(definition))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await nodeA.scheduler.run() }
                clock.advance(to: at(20))
                #expect(await eventually { dying.waitingCount == 1 })
                group.cancelAll()
            }
            dead.lost([shard])
            let busy = GatedExecutor()
            let assignment = ShardAssignment(shardCount: 4)
            try await EngineFixture.with(journal: journal, clock: clock, executor: busy, assignment: assignment) { nodeB in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await nodeB.scheduler.run() }
                    assignment.acquired([shard])
                    #expect(await eventually { clock.earliestDeadline == at(40) })
                    clock.advance(to: at(40))
                    #expect(await eventually { busy.waitingCount == 1 })
                    clock.advance(to: at(60))  // past 20 + 30 s timeout + 5 s margin; and the next occurrence
                    #expect(await eventually {
                        try? await nodeB.store.catchUp()
                        return await nodeB.store.state(of: task)?.lastRun?.result == .interrupted
                    })
                    let state = try #require(await nodeB.store.state(of: task))
                    #expect(Set(state.inFlight.values.map(\.scheduledAt)).isSuperset(of: [at(40)]), "the new owner's run is left running")
                    #expect(!state.inFlight.values.contains { $0.scheduledAt == at(20) && $0.attempt == 1 }, "the dead owner's run is recovered")
                    busy.open()
                    group.cancelAll()
                }
            }
            dying.open()
        }
    }
}
