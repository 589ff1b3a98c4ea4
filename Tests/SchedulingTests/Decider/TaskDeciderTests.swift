import Foundation
import Testing

@testable import Scheduling

@Suite("Task decider")
struct TaskDeciderTests {
    // MARK: Lifecycle

    @Test func creatingComputesTheFirstOccurrenceAndRepeatingItDoesNothing() throws {
        var task = Scenario()
        let created = try task.when(.createTask(try minutely()), at: t0, reason: "nightly billing")
        #expect(names(created) == ["TaskCreated"])
        #expect(created[0].actor == "alice")
        #expect(created[0].reason == "nightly billing")
        #expect(task.state?.nextDueAt == instant("2026-11-23T10:01:00Z"))
        #expect(task.state?.status == .active)
        #expect(try task.when(.createTask(try minutely()), at: t0.plus(5)).isEmpty)
        task.refuses(.createTask(try minutely(name: "other")), at: t0, .taskAlreadyExists)
    }

    @Test func aOneTimeInstantInThePastIsRefused() {
        var task = Scenario()
        task.refuses(.createTask(oneTime(at: t0)), at: t0, .invalidDefinition)
        task.refuses(.createTask(oneTime(at: t0.plus(-60))), at: t0, .invalidDefinition)
    }

    @Test func anUpdateRecomputesTheNextOccurrenceFromItsInstant() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        var hourly = try minutely()
        hourly.schedule = Schedule(.cron(try schedule("0 0 * * * *")))
        let updated = try task.when(.updateTask(hourly), at: t0.plus(120))
        #expect(names(updated) == ["TaskUpdated"])
        #expect(task.state?.nextDueAt == instant("2026-11-23T11:00:00Z"))
        #expect(try task.when(.updateTask(hourly), at: t0.plus(200)).isEmpty)
    }

    @Test func pauseAndResume() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        task.refuses(.resumeTask, at: t0, .taskNotPaused)
        #expect(names(try task.when(.pauseTask, at: t0.plus(1))) == ["TaskPaused"])
        #expect(try task.when(.pauseTask, at: t0.plus(2)).isEmpty)
        // Occurrences that fell while paused are not claimed.
        task.refuses(.startRun(.scheduled(taskA, at: instant("2026-11-23T10:01:00Z"))), at: t0.plus(40), .taskPaused)
        let resumed = try task.when(.resumeTask, at: instant("2026-11-23T10:05:10Z"))
        #expect(names(resumed) == ["TaskResumed"])
        #expect(task.state?.status == .active)
        #expect(task.state?.nextDueAt == instant("2026-11-23T10:06:00Z"))
    }

    @Test func deleteIsFinalAndRepeatable() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        #expect(names(try task.when(.deleteTask, at: t0.plus(1))) == ["TaskDeleted"])
        #expect(try task.when(.deleteTask, at: t0.plus(2)).isEmpty)
        task.refuses(.updateTask(try minutely(name: "again")), at: t0.plus(3), .taskDeleted)
        task.refuses(.resumeTask, at: t0.plus(3), .taskDeleted)
        task.refuses(.createTask(try minutely()), at: t0.plus(3), .taskAlreadyExists)
        #expect(task.state?.status == .deleted)
        #expect(task.state?.nextDueAt == nil)
    }

    @Test func commandsOnAnUnknownTaskAreRefused() {
        var task = Scenario()
        task.refuses(.pauseTask, at: t0, .taskNotFound)
        task.refuses(.triggerTask(trigger: "x"), at: t0, .taskNotFound)
    }

    // MARK: Claims

    @Test func theClaimIsExactlyOncePerOccurrence() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        let due = instant("2026-11-23T10:01:00Z")
        let occurrence = OccurrenceID.scheduled(taskA, at: due)
        task.refuses(.startRun(occurrence), at: due.plus(-1), .occurrenceNotDue)
        let started = try task.when(.startRun(occurrence), at: due.plus(0), actor: "scheduler")
        guard case .runStarted(let start) = started.first?.kind else {
            Issue.record("expected RunStarted, got \(names(started))")
            return
        }
        #expect(start.run == RunID(occurrence, attempt: 1))
        #expect(start.scheduledAt == due)
        #expect(start.nextDueAt == instant("2026-11-23T10:02:00Z"))
        #expect(task.state?.nextDueAt == instant("2026-11-23T10:02:00Z"))
        task.refuses(.startRun(occurrence), at: due.plus(1), .runAlreadyStarted)
        task.refuses(.startRun(.scheduled(taskA, at: due.plus(30))), at: due.plus(30), .occurrenceNotDue)
    }

    @Test func occurrenceIdentityIsStable() {
        let at = instant("2026-11-23T10:01:00Z")
        #expect(OccurrenceID.scheduled(taskA, at: at).rawValue == "task-a@1795428060000000")
        #expect(OccurrenceID.scheduled(taskA, at: at) == OccurrenceID.scheduled("task-a", at: Instant(secondsSinceEpoch: 1_795_428_060)))
        #expect(OccurrenceID.manual(taskA, trigger: "t1").rawValue == "task-a!t1")
        #expect(RunID(.manual(taskA, trigger: "t1"), attempt: 2).rawValue == "task-a!t1#2")
    }

    @Test func forbiddenOverlapSkipsTheOccurrence() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely(overlap: .forbid)), at: t0)
        let first = instant("2026-11-23T10:01:00Z")
        try task.when(.startRun(.scheduled(taskA, at: first)), at: first)
        let second = first.plus(60)
        let skipped = try task.when(.startRun(.scheduled(taskA, at: second)), at: second)
        guard case .occurrenceSkipped(let skip) = skipped.first?.kind else {
            Issue.record("expected OccurrenceSkipped, got \(names(skipped))")
            return
        }
        #expect(skip.reason == .overlap)
        #expect(task.state?.nextDueAt == second.plus(60))
        #expect(task.state?.counts.skipped == 1)
        // Manual triggers obey it too.
        try task.when(.triggerTask(trigger: "by-hand"), at: second.plus(1))
        let manual = try task.when(.startRun(.manual(taskA, trigger: "by-hand")), at: second.plus(1))
        #expect(names(manual) == ["OccurrenceSkipped"])
    }

    @Test func aManualTriggerRunsOnceEvenWhilePaused() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        try task.when(.pauseTask, at: t0.plus(1))
        #expect(names(try task.when(.triggerTask(trigger: "op-1"), at: t0.plus(2))) == ["RunTriggered"])
        #expect(try task.when(.triggerTask(trigger: "op-1"), at: t0.plus(3)).isEmpty)
        let occurrence = OccurrenceID.manual(taskA, trigger: "op-1")
        let started = try task.when(.startRun(occurrence), at: t0.plus(3))
        #expect(names(started) == ["RunStarted"])
        #expect(task.state?.pending.isEmpty == true)
        #expect(task.state?.nextDueAt == instant("2026-11-23T10:01:00Z"))
        #expect(try task.when(.triggerTask(trigger: "op-1"), at: t0.plus(4)).isEmpty)
    }

    @Test func aTriggerIdNeverRunsTwiceHoweverManyTriggersCameBetween() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        #expect(names(try task.when(.triggerTask(trigger: "key-0"), at: t0.plus(1))) == ["RunTriggered"])
        _ = try task.when(.startRun(OccurrenceID.manual(taskA, trigger: "key-0")), at: t0.plus(1))
        for index in 1...100 {
            #expect(names(try task.when(.triggerTask(trigger: "key-\(index)"), at: t0.plus(2))) == ["RunTriggered"])
        }
        #expect(try task.when(.triggerTask(trigger: "key-0"), at: t0.plus(3)).isEmpty)
        #expect(try task.when(.triggerTask(trigger: "key-50"), at: t0.plus(3)).isEmpty)
        #expect(task.state?.usedTriggers.count == 101)
    }

    // MARK: Outcomes and retries

    @Test func completingARunRecordsItOnce() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        let due = instant("2026-11-23T10:01:00Z")
        let run = RunID(.scheduled(taskA, at: due), attempt: 1)
        task.refuses(.completeRun(run, RunOutcome(statusCode: 200)), at: due, .runNotRunning)
        try task.when(.startRun(.scheduled(taskA, at: due)), at: due)
        let outcome = RunOutcome(statusCode: 204, duration: .milliseconds(12), responseExcerpt: "")
        #expect(names(try task.when(.completeRun(run, outcome), at: due.plus(1))) == ["RunSucceeded"])
        #expect(try task.when(.completeRun(run, outcome), at: due.plus(2)).isEmpty)
        #expect(task.state?.counts == RunCounts(runs: 1, succeeded: 1))
        #expect(task.state?.lastRun?.statusCode == 204)
        #expect(task.state?.inFlight.isEmpty == true)
        // The emptied table of runs in flight holds no storage (a million tasks would each
        // keep one otherwise).
        #expect(task.state?.inFlight.capacity == 0)
    }

    @Test func failuresRetryWithJitteredBackoffUntilAttemptsRunOut() throws {
        let retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(10), multiplier: 3, maxBackoff: .seconds(60))
        var task = Scenario()
        try task.when(.createTask(try minutely(retry: retry)), at: t0)
        let due = instant("2026-11-23T10:01:00Z")
        let occurrence = OccurrenceID.scheduled(taskA, at: due)
        try task.when(.startRun(occurrence), at: due)
        let failedAt = due.plus(1)
        let first = try task.when(.failRun(RunID(occurrence, attempt: 1), RunOutcome(statusCode: 500, error: "HTTP 500")), at: failedAt)
        #expect(names(first) == ["RunFailed", "RunRetryScheduled"])
        guard case .runRetryScheduled(let retry2) = first[1].kind else { return }
        #expect(retry2.attempt == 2)
        #expect(retry2.occurrence == occurrence)
        #expect(retry2.dueAt >= failedAt && retry2.dueAt <= failedAt.plus(10))
        // The retry keeps the same occurrence (the idempotency key) and does not block the
        // next scheduled occurrence.
        #expect(task.state?.nextDueAt == due.plus(60))
        task.refuses(.startRun(occurrence), at: retry2.dueAt.plus(-1), .occurrenceNotDue)
        let started2 = try task.when(.startRun(occurrence), at: retry2.dueAt)
        guard case .runStarted(let start2) = started2.first?.kind else { return }
        #expect(start2.attempt == 2)
        #expect(start2.run == RunID(occurrence, attempt: 2))
        let second = try task.when(.failRun(start2.run, RunOutcome(error: "timed out")), at: retry2.dueAt.plus(1))
        guard case .runRetryScheduled(let retry3) = second.last?.kind else { return }
        #expect(retry3.attempt == 3)
        #expect(retry3.dueAt <= retry2.dueAt.plus(1 + 30))
        try task.when(.startRun(occurrence), at: retry3.dueAt)
        let last = try task.when(.failRun(RunID(occurrence, attempt: 3), RunOutcome(error: "connection refused")), at: retry3.dueAt.plus(1))
        #expect(names(last) == ["RunFailed"])
        #expect(task.state?.counts == RunCounts(runs: 3, failed: 3))
        #expect(task.state?.pending.isEmpty == true)
        #expect(task.state?.pending.capacity == 0)
    }

    @Test func backoffGrowsToItsCapAndJitterIsStable() {
        let retry = RetryPolicy(maxAttempts: 10, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(5))
        #expect(retry.backoffCap(beforeAttempt: 2) == .seconds(1))
        #expect(retry.backoffCap(beforeAttempt: 3) == .seconds(2))
        #expect(retry.backoffCap(beforeAttempt: 4) == .seconds(4))
        #expect(retry.backoffCap(beforeAttempt: 5) == .seconds(5))
        #expect(retry.backoffCap(beforeAttempt: 9) == .seconds(5))
        let delays = (0..<50).map { retry.backoff(beforeAttempt: 4, seed: "task-a@\($0)") }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .seconds(4) })
        #expect(Set(delays).count > 40, "full jitter spreads the delays")
        #expect(retry.backoff(beforeAttempt: 4, seed: "task-a@1") == retry.backoff(beforeAttempt: 4, seed: "task-a@1"))
    }

    @Test func aOneTimeTaskCompletesAfterItsRun() throws {
        var task = Scenario()
        let at = t0.plus(60)
        try task.when(.createTask(oneTime(at: at)), at: t0)
        let occurrence = OccurrenceID.scheduled(taskA, at: at)
        try task.when(.startRun(occurrence), at: at)
        #expect(task.state?.status == .active)
        let done = try task.when(.completeRun(RunID(occurrence, attempt: 1), RunOutcome(statusCode: 200)), at: at.plus(1))
        #expect(names(done) == ["RunSucceeded", "TaskCompleted"])
        #expect(task.state?.status == .completed)
        task.refuses(.pauseTask, at: at.plus(2), .taskCompleted)
        // An update with a future occurrence makes it active again.
        #expect(names(try task.when(.updateTask(oneTime(at: at.plus(600))), at: at.plus(3))) == ["TaskUpdated"])
        #expect(task.state?.status == .active)
    }

    @Test func recoveringFailsInFlightRunsAsInterruptedAndRetries() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely(retry: RetryPolicy(maxAttempts: 2))), at: t0)
        let due = instant("2026-11-23T10:01:00Z")
        try task.when(.startRun(.scheduled(taskA, at: due)), at: due)
        let recovered = try task.when(.recoverRuns, at: due.plus(30), actor: "scheduler")
        #expect(names(recovered) == ["RunFailed", "RunRetryScheduled"])
        guard case .runFailed(_, let outcome, let interrupted) = recovered[0].kind else { return }
        #expect(interrupted)
        #expect(outcome.error?.contains("interrupted") == true)
        #expect(task.state?.lastRun?.result == .interrupted)
        #expect(try task.when(.recoverRuns, at: due.plus(31)).isEmpty)
    }

    @Test func skippingAMisfireAdvancesToTheNextOccurrence() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely()), at: t0)
        let due = instant("2026-11-23T10:01:00Z")
        let skipped = try task.when(.skipOccurrence(.scheduled(taskA, at: due), .misfire), at: due.plus(600), actor: "scheduler")
        guard case .occurrenceSkipped(let skip) = skipped.first?.kind else { return }
        #expect(skip.reason == .misfire)
        #expect(skip.nextDueAt == due.plus(60))
        #expect(task.state?.counts.skipped == 1)
        task.refuses(.skipOccurrence(.scheduled(taskA, at: due.plus(120)), .misfire), at: due.plus(600), .occurrenceNotDue)
    }

    @Test func aDeletedTasksRunsStillRecordTheirOutcome() throws {
        var task = Scenario()
        try task.when(.createTask(try minutely(retry: RetryPolicy(maxAttempts: 3))), at: t0)
        let due = instant("2026-11-23T10:01:00Z")
        let occurrence = OccurrenceID.scheduled(taskA, at: due)
        try task.when(.startRun(occurrence), at: due)
        try task.when(.deleteTask, at: due.plus(1))
        // Failing after the delete records the failure but schedules no retry.
        #expect(names(try task.when(.failRun(RunID(occurrence, attempt: 1), RunOutcome(statusCode: 503)), at: due.plus(2))) == ["RunFailed"])
        #expect(task.state?.status == .deleted)
    }
}
