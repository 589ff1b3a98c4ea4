import AlmanacTesting
import Foundation
import Journal
import Projections
import Scheduling
import Testing

@Suite("Projections")
struct ProjectionTests {
    // MARK: Due index

    @Test func theDueIndexOrdersByInstantThenTaskAndForgetsClaimedEntries() async throws {
        var harness = Harness()
        try await harness.run("b", .createTask(everyMinute("b")), at: seconds(0))
        try await harness.run("a", .createTask(everyMinute("a")), at: seconds(0))
        var once = everyMinute("c")
        once.schedule = Schedule(.once(seconds(30)))
        try await harness.run("c", .createTask(once), at: seconds(0))
        #expect(harness.live.nextDue()?.taskID == "c")
        #expect(harness.live.due(at: seconds(29)).isEmpty)
        let due = harness.live.due(at: seconds(60))
        #expect(due.map(\.taskID) == ["c", "a", "b"])
        #expect(due.map(\.dueAt) == [seconds(30), seconds(60), seconds(60)])
        // Claiming makes an entry stale; the next occurrence takes its place.
        try await harness.run("a", .startRun(due[1].occurrence), at: seconds(60))
        let after = harness.live.due(at: seconds(60))
        #expect(after.map(\.taskID) == ["c", "b"])
        // b's occurrence at 60 is still unclaimed; a's next is at 120.
        #expect(harness.live.due(at: seconds(120)).map(\.taskID) == ["c", "b", "a"])
        #expect(harness.live.dueIndex.liveCount == 3)
    }

    /// Entries set aside by a reserving look-up are not found again until released; released,
    /// those still due come back and those claimed meanwhile are gone.
    @Test func reservedEntriesAreLeftOutUntilReleasedAndOnlyTheCurrentOnesComeBack() async throws {
        var harness = Harness()
        for name in ["a", "b", "c"] { try await harness.run(TaskID(name), .createTask(everyMinute(name)), at: seconds(0)) }
        let first = harness.live.due(at: seconds(60), limit: 2, reserving: true)
        #expect(first.count == 2)
        #expect(harness.live.dueIndex.reserved.count == 2)
        let rest = harness.live.due(at: seconds(60), reserving: true)
        #expect(rest.count == 1)
        let found: Set<TaskID> = Set((first + rest).map(\.taskID))
        #expect(found == ["a", "b", "c"], "each entry is found once")
        #expect(harness.live.due(at: seconds(60), reserving: true).isEmpty)
        #expect(harness.live.nextDue()?.dueAt == seconds(60), "entries set aside still count as the next due")
        // One of them is claimed meanwhile.
        let claimed = first[0]
        try await harness.run(claimed.taskID, .startRun(claimed.occurrence), at: seconds(60))
        harness.live.releaseReservedDue()
        #expect(harness.live.dueIndex.reserved.isEmpty)
        let back = harness.live.due(at: seconds(60))
        let all: Set<TaskID> = ["a", "b", "c"]
        #expect(Set(back.map(\.taskID)) == all.subtracting([claimed.taskID]))
        #expect(harness.live.dueIndex.liveCount == 3)
    }

    @Test func pausedTasksHaveNoScheduledEntriesButKeepManualOnes() async throws {
        var harness = Harness()
        try await harness.run("a", .createTask(everyMinute()), at: seconds(0))
        try await harness.run("a", .pauseTask, at: seconds(1))
        #expect(harness.live.due(at: seconds(600)).isEmpty)
        try await harness.run("a", .triggerTask(trigger: "now"), at: seconds(2))
        let due = harness.live.due(at: seconds(2))
        #expect(due.map(\.occurrence) == [.manual("a", trigger: "now")])
        try await harness.run("a", .resumeTask, at: seconds(100))
        #expect(harness.live.due(at: seconds(120)).map(\.dueAt) == [seconds(2), seconds(120)])
    }

    @Test func retriesEnterTheDueIndexWithTheirOwnInstant() async throws {
        var harness = Harness()
        let retry = RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(10))
        try await harness.run("a", .createTask(everyMinute(retry: retry)), at: seconds(0))
        let first = try #require(harness.live.due(at: seconds(60)).first)
        try await harness.run("a", .startRun(first.occurrence), at: seconds(60))
        try await harness.run("a", .failRun(RunID(first.occurrence, attempt: 1), RunOutcome(statusCode: 500)), at: seconds(61))
        let entries = harness.live.due(at: seconds(71))
        let retryEntry = try #require(entries.first { $0.attempt == 2 })
        #expect(retryEntry.occurrence == first.occurrence)
        #expect(retryEntry.dueAt >= seconds(61) && retryEntry.dueAt <= seconds(71))
        // The retry does not block the next scheduled occurrence.
        #expect(harness.live.due(at: seconds(120)).contains { $0.dueAt == seconds(120) && $0.attempt == 1 })
    }

    @Test func manyUpdatesLeaveNoStaleEntriesBehindAfterCompaction() async throws {
        var harness = Harness()
        try await harness.run("a", .createTask(everyMinute()), at: seconds(0))
        for index in 1...3_000 {
            var definition = everyMinute()
            definition.schedule = Schedule(.interval(every: .seconds(Int64(60 + index % 7)), anchor: seconds(Int64(index))))
            try await harness.run("a", .updateTask(definition), at: seconds(Int64(index)))
        }
        #expect(harness.live.dueIndex.liveCount == 1)
        #expect(harness.live.dueIndex.storedCount < 3_000)
        #expect(harness.live.due(at: seconds(100_000)).count == 1)
    }

    // MARK: Run log

    @Test func theRunLogShowsEveryOutcome() async throws {
        var harness = Harness()
        let retry = RetryPolicy(maxAttempts: 2, initialBackoff: .seconds(1))
        try await harness.run("a", .createTask(everyMinute(retry: retry)), at: seconds(0))
        let occurrence = OccurrenceID.scheduled("a", at: seconds(60))
        try await harness.run("a", .startRun(occurrence), at: seconds(60).plusMilliseconds(500))
        try await harness.run("a", .failRun(RunID(occurrence, attempt: 1), RunOutcome(statusCode: 502, duration: .milliseconds(30), error: "HTTP 502")), at: seconds(61))
        let retryDue = try #require(harness.live.tasks["a"]?.pending[occurrence]?.dueAt)
        try await harness.run("a", .startRun(occurrence), at: retryDue)
        try await harness.run("a", .recoverRuns, at: retryDue.plusSeconds(5))
        try await harness.run("a", .skipOccurrence(.scheduled("a", at: seconds(120)), .misfire), at: seconds(500))
        let records = try await RunRecord.withDetails(harness.live.runLog.records(of: "a"), from: harness.journal)
        #expect(records.map(\.outcome) == [.retrying, .interrupted, .skipped])
        #expect(records[0].statusCode == 502)
        #expect(records[0].error == "HTTP 502")
        #expect(records[0].lateness == .milliseconds(500))
        #expect(records[0].duration == .milliseconds(30))
        #expect(records[1].attempt == 2)
        #expect(records[1].occurrence == records[0].occurrence)
        #expect(records[2].skipReason == .misfire)
    }

    @Test func theRunLogKeepsOnlyTheNewestRecordsPerTask() async throws {
        var harness = Harness()
        try await harness.run("a", .createTask(everyMinute()), at: seconds(0))
        for minute in 1...12 {
            let occurrence = OccurrenceID.scheduled("a", at: seconds(Int64(minute) * 60))
            try await harness.run("a", .startRun(occurrence), at: seconds(Int64(minute) * 60))
            try await harness.run("a", .completeRun(RunID(occurrence, attempt: 1), RunOutcome(statusCode: 200)), at: seconds(Int64(minute) * 60 + 1))
        }
        let records = harness.live.runLog.records(of: "a")
        #expect(records.count == 5)
        #expect(records.last?.scheduledAt == seconds(720))
        #expect(harness.live.tasks["a"]?.counts.succeeded == 12)
    }

    // MARK: Time travel and snapshots

    @Test func timeTravelByPositionAndByInstant() async throws {
        var harness = Harness()
        try await harness.run("a", .createTask(everyMinute()), at: seconds(0))
        try await harness.run("a", .pauseTask, at: seconds(10))
        let pausedAt = try await harness.journal.head()
        try await harness.run("a", .resumeTask, at: seconds(20))
        try await harness.run("a", .deleteTask, at: seconds(30))
        let atPause = try await Replay.build(from: harness.journal, until: .position(pausedAt), runRetention: 5)
        #expect(atPause.tasks["a"]?.status == .paused)
        #expect(atPause.position == pausedAt)
        let at25 = try await Replay.build(from: harness.journal, until: .instant(seconds(25)), runRetention: 5)
        #expect(at25.tasks["a"]?.status == .active)
        #expect(at25.position == 3)
        let before = try await Replay.build(from: harness.journal, until: .instant(seconds(-1)), runRetention: 5)
        #expect(before.tasks.isEmpty)
        let now = try await Replay.build(from: harness.journal, runRetention: 5)
        #expect(now.tasks["a"]?.status == .deleted)
    }

    @Test func snapshotsOnLMDBStartUpWithTheTailAndKeepTheNewestThree() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { journal in
                var live = Projection(runRetention: 5)
                var now = seconds(0)
                for index in 0..<40 {
                    now = seconds(Int64(index) * 30)
                    let task = TaskID("t\(index % 4)")
                    let action: TaskCommand.Action = live.tasks[task] == nil ? .createTask(everyMinute(task.rawValue)) : .triggerTask(trigger: "\(index)")
                    let events = try TaskDecider.decide(TaskCommand(taskID: task, actor: "tester", action: action), state: live.tasks[task], now: now)
                    let proposed = events.map { event in
                        let encoded = EventCodec.encode(event)
                        return ProposedEvent(type: encoded.type, schemaVersion: encoded.schemaVersion, recordedAt: event.at.microsecondsSinceEpoch, payload: encoded.payload)
                    }
                    let result = try await journal.append(proposed, to: StreamID(task.rawValue), expectedVersion: .exactly(live.tasks[task]?.version ?? 0))
                    for (offset, event) in events.enumerated() {
                        live.apply(event, position: result.firstPosition + UInt64(offset), streamVersion: result.streamVersion - UInt64(events.count - 1 - offset))
                    }
                    if index % 8 == 7 { try await journal.saveSnapshot(ProjectionSnapshot.make(live)) }
                }
                let (resumed, snapshotPosition) = try await Replay.fromSnapshot(of: journal, runRetention: 5)
                // Snapshots were taken at 8, 16, 24, 32 and 40; the newest three are kept.
                #expect(snapshotPosition == 40)
                #expect(resumed == live)
                #expect(resumed.digest == live.digest)
                #expect(try await journal.latestSnapshot(atOrBefore: 31)?.position == 24)
                #expect(try await journal.latestSnapshot(atOrBefore: 24)?.position == 24)
                #expect(try await journal.latestSnapshot(atOrBefore: 23) == nil, "only the newest three are kept")
                // As of position 30: the snapshot at 24 plus six events.
                let (past, used) = try await Replay.fromSnapshot(of: journal, until: .position(30), runRetention: 5)
                #expect(used == 24)
                #expect(past.position == 30)
                #expect(past == (try await Replay.build(from: journal, until: .position(30), runRetention: 5)))
            }
        }
    }

    @Test func aSnapshotOfAnotherFormatOrDamagedIsIgnored() async throws {
        var harness = Harness()
        try await harness.run("a", .createTask(everyMinute()), at: seconds(0))
        try await harness.run("a", .pauseTask, at: seconds(1))
        let good = ProjectionSnapshot.make(harness.live)
        #expect(try ProjectionSnapshot.load(good, runRetention: 5) == harness.live)
        let foreign = StoredSnapshot(position: good.position, format: "projections/0", bytes: good.bytes)
        #expect(try ProjectionSnapshot.load(foreign, runRetention: 5) == nil)
        var bytes = good.bytes
        bytes[bytes.count / 2] ^= 0x40
        let damaged = StoredSnapshot(position: good.position, format: good.format, bytes: bytes)
        #expect(throws: ProjectionError.self) { try ProjectionSnapshot.load(damaged, runRetention: 5) }
        // A damaged snapshot in the store means a full replay, not a wrong state.
        try await harness.journal.saveSnapshot(damaged)
        let (rebuilt, used) = try await Replay.fromSnapshot(of: harness.journal, runRetention: 5)
        #expect(used == nil)
        #expect(rebuilt == harness.live)
    }

    @Test func theDigestIsStableAndSensitive() async throws {
        var first = Harness()
        var second = Harness()
        for harness in [0, 1] {
            for index in 0..<5 {
                if harness == 0 {
                    try await first.run(TaskID("t\(index)"), .createTask(everyMinute("t\(index)")), at: seconds(Int64(index)))
                } else {
                    try await second.run(TaskID("t\(index)"), .createTask(everyMinute("t\(index)")), at: seconds(Int64(index)))
                }
            }
        }
        #expect(first.live.digest == second.live.digest)
        #expect(first.live.digest.count == 16)
        try await second.run("t0", .pauseTask, at: seconds(10))
        #expect(first.live.digest != second.live.digest)
    }
}

extension Instant {
    func plusSeconds(_ value: Int64) -> Instant { Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + value * 1_000_000) }
    func plusMilliseconds(_ value: Int64) -> Instant { Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + value * 1_000) }
}
