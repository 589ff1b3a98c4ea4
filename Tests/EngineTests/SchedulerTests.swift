import AlmanacTesting
import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling
import Testing

@Suite("Scheduler on a manual clock", .timeLimit(.minutes(2)))
struct SchedulerTests {
    @Test func occurrencesFireAtTheirDueInstantsAndRecordTheirOutcome() async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a")))
            #expect(try await engine.tick(at: at(59)).claimed == 0)
            #expect(executor.requests.isEmpty)
            #expect(try await engine.tick(at: at(60)).claimed == 1)
            #expect(try await engine.tick(at: at(60)).claimed == 0, "an occurrence is claimed once")
            let request = try #require(executor.requests.first)
            #expect(request.start.scheduledAt == at(60))
            #expect(request.start.occurrence == .scheduled("a", at: at(60)))
            #expect(request.firedAt == at(60))
            #expect(try await engine.names(of: "a") == ["TaskCreated", "RunStarted", "RunSucceeded"])
            let runs = try await engine.runs(of: "a")
            #expect(runs.map(\.outcome) == [.succeeded])
            #expect(runs.first?.lateness == .zero)
            #expect(try await engine.tick(at: at(180)).claimed == 2, "two occurrences due, within the grace period")
            #expect(executor.requests.map(\.start.scheduledAt) == [at(60), at(120), at(180)])
        }
    }

    @Test func aCronTaskFollowsTheDaylightSavingRuleOnTheLoop() async throws {
        let executor = RecordingExecutor()
        let newYork = try CronSchedule(expression: CronExpression("0 30 2 * * *"), timeZoneIdentifier: "America/New_York")
        let clock = ManualClock(now: Instant(secondsSinceEpoch: 1_772_841_600))  // 2026-03-07T00:00:00Z
        try await EngineFixture.with(clock: clock, executor: executor) { engine in
            var definition = everyMinute("nightly")
            definition.schedule = Schedule(.cron(newYork))
            try await engine.run("nightly", .createTask(definition))
            for _ in 0..<3 {
                let next = try #require(await engine.store.nextDue())
                try await engine.tick(at: next.dueAt)
            }
            // 02:30 EST on the 7th, the gap's end (03:00 EDT) on the 8th, 02:30 EDT on the 9th.
            #expect(executor.requests.map(\.start.scheduledAt.secondsSinceEpoch) == [1_772_868_600, 1_772_953_200, 1_773_037_800])
        }
    }

    @Test(arguments: [
        (MisfirePolicy.runOnce, ["TaskCreated"] + Array(repeating: "OccurrenceSkipped", count: 9) + ["RunStarted", "RunSucceeded"], 1),
        (MisfirePolicy.runAll(limit: 3), ["TaskCreated"] + Array(repeating: "OccurrenceSkipped", count: 7) + ["RunStarted", "RunSucceeded", "RunStarted", "RunSucceeded", "RunStarted", "RunSucceeded"], 3),
        (MisfirePolicy.skip, ["TaskCreated"] + Array(repeating: "OccurrenceSkipped", count: 10), 0),
    ])
    func misfirePoliciesAfterDowntime(policy: MisfirePolicy, expected: [String], runs: Int) async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor, grace: .seconds(10)) { engine in
            try await engine.run("a", .createTask(everyMinute("a", misfire: policy)))
            // Down for ten minutes: occurrences at 60 … 600 are all found more than the
            // 10-second grace late, at 630.
            while try await engine.tick(at: at(630)).moreDue {}
            try await engine.dispatcher.waitUntilIdle()
            #expect(executor.requests.count == runs)
            let names = try await engine.names(of: "a")
            #expect(names.filter { $0 == "OccurrenceSkipped" }.count == expected.filter { $0 == "OccurrenceSkipped" }.count)
            #expect(names.filter { $0 == "RunStarted" }.count == runs)
            let skipped = try await engine.events(of: "a").compactMap { event -> SkipReason? in
                if case .occurrenceSkipped(let skip) = event.kind { return skip.reason }
                return nil
            }
            #expect(skipped.allSatisfy { $0 == .misfire })
            // The runs are the latest missed occurrences, and the next one is in the future.
            #expect(executor.requests.map(\.start.scheduledAt) == Array([at(600), at(540), at(480)].prefix(runs)).reversed())
            #expect(await engine.store.state(of: "a")?.nextDueAt == at(660))
        }
    }

    @Test func manyOutcomesOfOneTaskFinishingTogetherAreAllRecorded() async throws {
        // After downtime, `runAll` starts 100 runs of one task; their outcomes all arrive at
        // once and every one must be recorded, not dropped after losing version races.
        // On LMDB, where one group commit gathers the racing appends.
        try await TemporaryDirectory.with(prefix: "almanac-outcomes") { directory in
        let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 64 << 20))
        defer { journal.close() }
        let executor = GatedExecutor()
        try await EngineFixture.with(journal: journal, executor: executor, maxConcurrent: 200, grace: .seconds(10)) { engine in
            try await engine.run("a", .createTask(everyMinute("a", misfire: .runAll(limit: 100))))
            engine.clock.advance(to: at(6_030))
            while try await engine.scheduler.tick(now: at(6_030)).moreDue {}
            await executor.waitForHeld(100)
            #expect(executor.waitingCount == 100)
            executor.open()
            try await engine.dispatcher.waitUntilIdle()
            let state = try #require(await engine.store.state(of: "a"))
            #expect(state.inFlight.isEmpty)
            #expect(state.counts.succeeded == 100)
            let names = try await engine.names(of: "a")
            #expect(names.filter { $0 == "RunSucceeded" }.count == 100)
        }
        }
    }

    @Test func anOutcomeThatKeepsLosingRacesIsRecordedOnceItWins() async throws {
        let journal = ContendedJournal(refusing: "RunSucceeded")
        let executor = RecordingExecutor()
        try await EngineFixture.with(journal: journal, executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a")))
            // Another writer wins the outcome's next 20 appends: more than a command decides again.
            journal.refuse(20, of: "a")
            engine.clock.advance(to: at(60))
            #expect(try await engine.scheduler.tick(now: at(60)).claimed == 1)
            // The outcome backs off on the clock while it loses; move time until it is in.
            var advances = 0
            while journal.refusals(of: "a") > 0 || engine.dispatcher.running > 0 {
                #expect(await eventually { engine.clock.sleeperCount > 0 || engine.dispatcher.running == 0 })
                engine.clock.advance(by: .seconds(1))
                advances += 1
                try #require(advances < 100)
            }
            #expect(advances >= 2, "the outcome waited on the clock between attempts")
            #expect(journal.refusals(of: "a") == 0)
            #expect(await engine.store.state(of: "a")?.inFlight.isEmpty == true)
            #expect(try await engine.names(of: "a") == ["TaskCreated", "RunStarted", "RunSucceeded"])
        }
    }

    @Test func aLateOccurrenceWithinTheGraceRunsNormally() async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor, grace: .seconds(60)) { engine in
            try await engine.run("a", .createTask(everyMinute("a", misfire: .skip)))
            try await engine.tick(at: at(100))
            #expect(executor.requests.map(\.start.scheduledAt) == [at(60)])
            #expect(try await engine.runs(of: "a").first?.lateness == .seconds(40))
        }
    }

    @Test func forbiddenOverlapSkipsWhileARunIsInFlight() async throws {
        let executor = GatedExecutor()
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a", overlap: .forbid)))
            engine.clock.advance(to: at(60))
            try await engine.scheduler.tick(now: at(60))
            await executor.waitForHeld(1)
            engine.clock.advance(to: at(120))
            let summary = try await engine.scheduler.tick(now: at(120))
            #expect(summary.skipped == 1)
            #expect(summary.claimed == 0)
            try await engine.run("a", .triggerTask(trigger: "by-hand"))
            #expect(try await engine.scheduler.tick(now: at(121)).skipped == 1, "manual triggers obey the policy")
            executor.open()
            try await engine.dispatcher.waitUntilIdle()
            #expect(try await engine.runs(of: "a").map(\.outcome) == [.succeeded, .skipped, .skipped])
        }
    }

    @Test func retriesBackOffUnderTheSameIdempotencyKeyWithoutBlockingTheSchedule() async throws {
        let executor = RecordingExecutor()
        executor.answer(.failed(RunOutcome(statusCode: 500, error: "HTTP 500")), .failed(RunOutcome(error: "timed out")))
        let retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(8), multiplier: 2, maxBackoff: .seconds(30))
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a", retry: retry)))
            try await engine.tick(at: at(60))
            let firstRetry = try #require(await engine.store.state(of: "a")?.pending.values.first)
            #expect(firstRetry.attempt == 2)
            #expect(firstRetry.dueAt >= at(60) && firstRetry.dueAt <= at(68))
            try await engine.tick(at: firstRetry.dueAt)
            let secondRetry = try #require(await engine.store.state(of: "a")?.pending.values.first)
            #expect(secondRetry.attempt == 3)
            try await engine.tick(at: secondRetry.dueAt)
            try await engine.tick(at: at(120))
            let attempts = executor.requests.map { ($0.start.occurrence, $0.start.attempt) }
            #expect(attempts.map(\.0) == [.scheduled("a", at: at(60)), .scheduled("a", at: at(60)), .scheduled("a", at: at(60)), .scheduled("a", at: at(120))])
            #expect(attempts.map(\.1) == [1, 2, 3, 1])
            #expect(try await engine.runs(of: "a").map(\.outcome) == [.retrying, .retrying, .succeeded, .succeeded])
        }
    }

    @Test func exhaustedRetriesLeaveTheRunFailedForGood() async throws {
        let executor = RecordingExecutor(defaultResult: .failed(RunOutcome(statusCode: 503, error: "HTTP 503")))
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a", retry: RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1)))))
            try await engine.tick(at: at(60))
            try await engine.tick(at: at(62))
            #expect(try await engine.runs(of: "a").map(\.outcome) == [.retrying, .failed])
            #expect(await engine.store.state(of: "a")?.counts.failed == 2)
            #expect(await engine.store.state(of: "a")?.pending.isEmpty == true)
        }
    }

    @Test func pausingDuringARetryWaitHoldsTheRetryUntilResumed() async throws {
        let executor = RecordingExecutor()
        executor.answer(.failed(RunOutcome(statusCode: 500)))
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a", retry: RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(5)))))
            try await engine.tick(at: at(60))
            try await engine.run("a", .pauseTask, reason: "receiver maintenance")
            #expect(try await engine.tick(at: at(90)).claimed == 0)
            #expect(executor.requests.count == 1)
            engine.clock.advance(to: at(100))
            try await engine.run("a", .resumeTask)
            try await engine.tick(at: at(100))
            #expect(executor.requests.map(\.start.attempt) == [1, 2])
            let paused = try await engine.events(of: "a").first { $0.kind == .paused }
            #expect(paused?.reason == "receiver maintenance")
            #expect(paused?.actor == "alice")
        }
    }

    @Test func anUpdateOrDeleteJustBeforeTheTickWins() async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("a", .createTask(everyMinute("a")))
            try await engine.run("b", .createTask(everyMinute("b")))
            engine.clock.advance(to: at(60))
            var hourly = everyMinute("a")
            hourly.schedule = Schedule(.interval(every: .seconds(3600), anchor: start))
            try await engine.run("a", .updateTask(hourly))
            try await engine.run("b", .deleteTask)
            #expect(try await engine.tick(at: at(60)).claimed == 0)
            #expect(executor.requests.isEmpty)
            #expect(await engine.store.nextDue()?.dueAt == at(3600))
        }
    }

    @Test func saturatedDispatchersLeaveDueRunsWaitingNeverDropped() async throws {
        let executor = GatedExecutor()
        try await EngineFixture.with(executor: executor, maxConcurrent: 2) { engine in
            for name in ["a", "b", "c", "d", "e"] { try await engine.run(TaskID(name), .createTask(everyMinute(name))) }
            engine.clock.advance(to: at(60))
            let first = try await engine.scheduler.tick(now: at(60))
            #expect(first.claimed == 2)
            #expect(first.moreDue)
            await executor.waitForHeld(2)
            executor.open()
            try await engine.dispatcher.waitUntilIdle()
            engine.clock.advance(to: at(65))
            while try await engine.scheduler.tick(now: at(65)).moreDue { try await engine.dispatcher.waitUntilIdle() }
            try await engine.dispatcher.waitUntilIdle()
            #expect(Set(executor.requests.map(\.taskID)) == ["a", "b", "c", "d", "e"])
            // The ones that waited record their lateness.
            var lateness: [Duration] = []
            for name in ["a", "b", "c", "d", "e"] { lateness += try await engine.runs(of: TaskID(name)).map(\.lateness) }
            #expect(lateness.sorted() == [.zero, .zero, .seconds(5), .seconds(5), .seconds(5)])
        }
    }

    @Test func runsInFlightAtACrashAreFailedAsInterruptedAndRetriedWithTheSameKey() async throws {
        let journal = InMemoryJournal()
        let clock = ManualClock(now: start)
        do {
            // A first process claims the occurrence; its dispatcher never runs, as if the
            // process died right after the claim's commit.
            let store = ProjectionStore(journal: journal)
            let commands = CommandService(journal: journal, store: store, clock: clock)
            let dispatcher = RunDispatcher(executor: RecordingExecutor(), commands: commands, clock: clock, logger: Logger(label: "test"))
            let scheduler = Scheduler(
                journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock,
                logger: Logger(label: "test")
            )
            try await commands.execute(TaskCommand(
                taskID: "a", actor: "alice",
                action: .createTask(everyMinute("a", retry: RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(2))))
            ))
            clock.advance(to: at(60))
            #expect(try await scheduler.tick(now: at(60)).claimed == 1)
        }
        let executor = RecordingExecutor()
        clock.advance(to: at(70))
        try await EngineFixture.with(journal: journal, clock: clock, executor: executor) { engine in
            try await engine.scheduler.recoverInterruptedRuns()
            let retry = try #require(await engine.store.state(of: "a")?.pending.values.first)
            try await engine.tick(at: retry.dueAt)
            let started = try await engine.events(of: "a").compactMap { event -> RunStart? in
                if case .runStarted(let start) = event.kind { return start }
                return nil
            }
            #expect(started.map(\.occurrence) == [.scheduled("a", at: at(60)), .scheduled("a", at: at(60))])
            #expect(started.map(\.attempt) == [1, 2])
            #expect(try await engine.runs(of: "a").map(\.outcome) == [.interrupted, .succeeded])
            let recovered = try await engine.events(of: "a").first { if case .runFailed = $0.kind { true } else { false } }
            #expect(recovered?.reason == "recovered at start")
        }
    }

    @Test func gracefulShutdownWaitsForRunningAttemptsThenRecordsTheRestAsInterrupted() async throws {
        let journal = InMemoryJournal()
        let clock = ManualClock(now: start)
        let store = ProjectionStore(journal: journal)
        let commands = CommandService(journal: journal, store: store, clock: clock)
        let executor = GatedExecutor()
        let dispatcher = RunDispatcher(executor: executor, commands: commands, clock: clock, shutdownDeadline: .seconds(10), logger: Logger(label: "test"))
        let scheduler = Scheduler(journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock, logger: Logger(label: "test"))
        try await commands.execute(TaskCommand(taskID: "a", actor: "alice", action: .createTask(everyMinute("a", retry: RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1))))))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await dispatcher.run() }
            clock.advance(to: at(60))
            #expect(try await scheduler.tick(now: at(60)).claimed == 1)
            await executor.waitForHeld(1)
            dispatcher.finish()  // what a graceful shutdown does to the stream
            // Within the deadline the attempt may still finish; past it, it is cut short.
            #expect(await eventually { clock.sleeperCount == 1 })
            clock.advance(to: at(71))
            try await group.waitForAll()
        }
        try await store.catchUp()
        let state = try #require(await store.state(of: "a"))
        #expect(state.inFlight.isEmpty)
        #expect(state.lastRun?.result == .interrupted)
        #expect(state.pending.values.first?.attempt == 2, "retried under the same occurrence")
        let failed = try await journal.read(stream: "a", after: 0, limit: 10).map(\.type)
        #expect(failed == ["TaskCreated", "RunStarted", "RunFailed", "RunRetryScheduled"])
    }

    @Test func theLoopSleepsUntilTheEarliestDueInstantAndWakesForAnEarlierOne() async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor) { engine in
            try await engine.run("hourly", .createTask({
                var definition = everyMinute("hourly")
                definition.schedule = Schedule(.interval(every: .seconds(3600), anchor: start))
                return definition
            }()))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await engine.scheduler.run() }
                #expect(await eventually { engine.clock.earliestDeadline == at(3600) }, "asleep until the hourly occurrence")
                // A new task due sooner wakes the loop, which sleeps again until it.
                try await engine.run("soon", .createTask(everyMinute("soon")))
                #expect(await eventually { engine.clock.earliestDeadline == at(60) })
                engine.clock.advance(to: at(60))
                #expect(await eventually { executor.requests.count == 1 })
                #expect(executor.requests.first?.taskID == "soon")
                #expect(await eventually { engine.clock.earliestDeadline == at(120) })
                group.cancelAll()
            }
        }
    }
}

@Suite("Scheduler outcomes under load", .timeLimit(.minutes(2)))
struct SchedulerLoadTests {
    /// Many attempts finishing at once must all be recorded as they ended — none left in
    /// flight, none later recorded as interrupted.
    @Test func everyOutcomeOfAFastExecutorIsRecorded() async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor, maxConcurrent: 1_000) { engine in
            for index in 0..<300 { try await engine.run(TaskID("t\(index)"), .createTask(everyMinute("t\(index)"))) }
            for minute in 1...3 {
                try await engine.tick(at: at(Int64(minute) * 60))
            }
            #expect(executor.requests.count == 900)
            var succeeded = 0
            for (_, state) in await engine.store.tasks {
                #expect(state.inFlight.isEmpty)
                succeeded += state.counts.succeeded
            }
            #expect(succeeded == 900)
        }
    }

    /// Batches are pipelined (the next one decided while the previous one is written). Two
    /// attempts of one task in consecutive batches: the second is decided before the first is
    /// applied, loses on the task's version, and is decided again in the same tick.
    @Test func attemptsOfOneTaskInConsecutiveBatchesAreAllClaimed() async throws {
        let executor = RecordingExecutor()
        try await EngineFixture.with(executor: executor, maxConcurrent: 16, batchSize: 1) { engine in
            for name in ["a", "b"] { try await engine.run(TaskID(name), .createTask(everyMinute(name))) }
            engine.clock.advance(to: at(60))
            // Task a has two attempts due: its occurrence at 60 and a manual trigger.
            try await engine.run("a", .triggerTask(trigger: "now"))
            var claimed = 0
            var summary = try await engine.scheduler.tick(now: at(60))
            claimed += summary.claimed
            while summary.moreDue {
                summary = try await engine.scheduler.tick(now: at(60))
                claimed += summary.claimed
            }
            try await engine.dispatcher.waitUntilIdle()
            #expect(claimed == 3)
            #expect(Set(executor.requests.map(\.start.occurrence.rawValue)) == [
                OccurrenceID.scheduled("a", at: at(60)).rawValue, OccurrenceID.manual("a", trigger: "now").rawValue,
                OccurrenceID.scheduled("b", at: at(60)).rawValue,
            ])
            #expect(await engine.store.nextDue()?.dueAt == at(120))
        }
    }

    /// A burst is claimed before its calls and outcomes (ClaimsFirst): with batches of one on
    /// LMDB, the tick spans many durable commits, and attempts that would finish at once are
    /// neither called nor recorded until it ends. The claims are applied as decided, without
    /// reading the journal back: the live projection equals one rebuilt from the journal.
    @Test func aBurstIsClaimedBeforeItsCallsAndOutcomes() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-claims-first") { directory in
        let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 64 << 20))
        defer { journal.close() }
        try await EngineFixture.with(journal: journal, executor: RecordingExecutor(), batchSize: 1) { engine in
            for index in 0..<48 { try await engine.run(TaskID("t\(index)"), .createTask(everyMinute("t\(index)"))) }
            engine.clock.advance(to: at(60))
            let summary = try await engine.scheduler.tick(now: at(60))
            #expect(summary.claimed == 48)
            try await engine.dispatcher.waitUntilIdle()
            let records = try await journal.read(after: 0, limit: 10_000)
            let started = records.filter { $0.type == "RunStarted" }.map(\.position)
            let succeeded = records.filter { $0.type == "RunSucceeded" }.map(\.position)
            #expect(started.count == 48 && succeeded.count == 48)
            #expect(started.max()! < succeeded.min()!, "every claim of the tick is recorded before any outcome")
            try await engine.store.catchUp()
            let live = await engine.store.digest()
            let rebuilt = try await Replay.build(from: journal)
            #expect(live.position == rebuilt.position)
            #expect(live.digest == rebuilt.digest, "claims applied as decided equal claims read back")
        }
        }
    }
}
