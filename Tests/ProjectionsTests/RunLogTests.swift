import Journal
import Projections
import Scheduling
import Testing

/// The run log's compact records: ids derived or kept, chains per task, retention, snapshots.
@Suite("Run log") struct RunLogTests {
    private func at(_ seconds: Int64) -> Instant { Instant(secondsSinceEpoch: seconds) }

    private func started(_ task: TaskID, _ occurrence: OccurrenceID, scheduledAt: Instant, attempt: Int = 1, at: Instant) -> TaskEvent {
        let kind: OccurrenceKind = occurrence.rawValue.contains("!") ? .manual : .scheduled
        return TaskEvent(taskID: task, at: at, actor: "test", kind: .runStarted(RunStart(
            run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: scheduledAt,
            dueAt: scheduledAt, attempt: attempt, occurrenceKind: kind, nextDueAt: nil
        )))
    }

    private func succeeded(_ task: TaskID, _ run: RunID, at: Instant, _ outcome: RunOutcome = RunOutcome(statusCode: 200)) -> TaskEvent {
        TaskEvent(taskID: task, at: at, actor: "test", kind: .runSucceeded(run: run, outcome: outcome))
    }

    /// Numbers the events applied, as journal positions.
    private struct Positions {
        var last: UInt64 = 0
        mutating func next() -> UInt64 {
            last += 1
            return last
        }
    }

    @Test func scheduledManualAndIrregularOccurrencesKeepTheirIds() {
        var log = RunLog()
        var positions = Positions()
        let scheduled = OccurrenceID.scheduled("a", at: at(60))
        let manual = OccurrenceID.manual("a", trigger: "t-1")
        // Not the form `scheduled(_:at:)` writes (a leading zero): kept as it is, never rewritten.
        let irregular = OccurrenceID(rawValue: "a@0120000000")
        for (number, occurrence) in [scheduled, manual, irregular].enumerated() {
            let start = at(60 * Int64(number + 1))
            log.apply(started("a", occurrence, scheduledAt: start, at: start), position: positions.next())
            log.apply(succeeded("a", RunID(occurrence, attempt: 1), at: start + .seconds(1)), position: positions.next())
        }
        let records = log.records(of: "a")
        #expect(records.map(\.occurrence) == [scheduled, manual, irregular])
        #expect(records.map(\.run) == [scheduled, manual, irregular].map { RunID($0, attempt: 1) })
        #expect(records.map(\.outcome) == [.succeeded, .succeeded, .succeeded])
        #expect(records.allSatisfy { $0.task == "a" && $0.statusCode == 200 })
    }

    /// A manual trigger's occurrence text is kept beside its record; a slot reused at the
    /// retention takes the new record's text, or none.
    @Test func reusedSlotsKeepTheirOwnOccurrenceText() throws {
        var log = RunLog(retention: 2)
        var positions = Positions()
        var expected: [OccurrenceID] = []
        let sequence: [OccurrenceID] = [
            .manual("a", trigger: "t1"), .scheduled("a", at: at(60)), .scheduled("a", at: at(120)),
            .manual("a", trigger: "t2"), .manual("a", trigger: "t3"), .scheduled("a", at: at(180)), .scheduled("a", at: at(240)),
        ]
        for (number, occurrence) in sequence.enumerated() {
            let start = at(1_000 + Int64(number))
            log.apply(started("a", occurrence, scheduledAt: start, at: start), position: positions.next())
            expected = Array((expected + [occurrence]).suffix(2))
            #expect(log.records(of: "a").map(\.occurrence) == expected, "after \(number + 1)")
            // Each record's outcome still finds it by its own text.
            log.apply(succeeded("a", RunID(occurrence, attempt: 1), at: start + .seconds(1)), position: positions.next())
            #expect(log.records(of: "a").last?.outcome == .succeeded)
        }
    }

    @Test func anOutcomeFindsItsAttemptAndNoOther() {
        var log = RunLog()
        var positions = Positions()
        let occurrence = OccurrenceID.scheduled("a", at: at(60))
        log.apply(started("a", occurrence, scheduledAt: at(60), attempt: 1, at: at(60)), position: positions.next())
        log.apply(started("a", occurrence, scheduledAt: at(60), attempt: 2, at: at(70)), position: positions.next())
        log.apply(succeeded("a", RunID(occurrence, attempt: 1), at: at(71), RunOutcome(statusCode: 201, duration: .nanoseconds(1_500_900))), position: positions.next())
        // Runs the log never saw, or of another task, change nothing.
        log.apply(succeeded("a", RunID(.scheduled("a", at: at(61)), attempt: 2), at: at(72)), position: positions.next())
        log.apply(succeeded("b", RunID(occurrence, attempt: 2), at: at(72)), position: positions.next())
        log.apply(succeeded("a", RunID(rawValue: "a@60000000#x"), at: at(72)), position: positions.next())
        let records = log.records(of: "a")
        #expect(records.map(\.attempt) == [1, 2])
        #expect(records.map(\.outcome) == [.succeeded, .running])
        #expect(records[0].statusCode == 201)
        #expect(records[0].finishedAt == at(71))
        // Durations are kept in whole microseconds, as the journal stores them.
        #expect(records[0].duration == .microseconds(1500))
        #expect(log.records(of: "b").isEmpty)
    }

    @Test func eachTaskKeepsItsNewestRecordsWithinTheRetention() {
        for retention in [1, 3] {
            var log = RunLog(retention: retention)
            var positions = Positions()
            // Enough tasks that several share a part of the log, their runs interleaved.
            let tasks = (0..<200).map { TaskID("t\($0)") }
            for minute in 1...7 {
                for task in tasks {
                    let occurrence = OccurrenceID.scheduled(task, at: at(Int64(minute) * 60))
                    log.apply(started(task, occurrence, scheduledAt: at(Int64(minute) * 60), at: at(Int64(minute) * 60)), position: positions.next())
                    if minute % 2 == 1 { log.apply(succeeded(task, RunID(occurrence, attempt: 1), at: at(Int64(minute) * 60 + 1)), position: positions.next()) }
                }
            }
            let expectedMinutes = Array((8 - retention)...7)
            for task in tasks {
                let records = log.records(of: task)
                #expect(records.map(\.scheduledAt) == expectedMinutes.map { at(Int64($0) * 60) }, "retention \(retention), \(task)")
                #expect(records.map(\.outcome) == expectedMinutes.map { $0 % 2 == 1 ? .succeeded : .running })
            }
            #expect(log.recordCount == tasks.count * retention)
            #expect(log.taskIDs.count == tasks.count)
        }
    }

    @Test func aSnapshotKeepsEveryRecordAsItWasAndItsTextsAreReadFromTheJournal() async throws {
        let journal = InMemoryJournal()
        var projection = Projection(runRetention: 4)
        func apply(_ event: TaskEvent) async throws {
            let encoded = EventCodec.encode(event)
            let result = try await journal.append(
                [ProposedEvent(type: encoded.type, schemaVersion: encoded.schemaVersion, recordedAt: event.at.microsecondsSinceEpoch, payload: encoded.payload)],
                to: StreamID(event.taskID.rawValue), expectedVersion: .any
            )
            projection.apply(event, position: result.firstPosition, streamVersion: result.streamVersion)
        }
        let manual = OccurrenceID.manual("a", trigger: "by-hand")
        try await apply(started("a", manual, scheduledAt: at(5), at: at(5)))
        try await apply(TaskEvent(taskID: "a", at: at(6), actor: "test", kind: .runFailed(
            run: RunID(manual, attempt: 1),
            outcome: RunOutcome(statusCode: 503, duration: .milliseconds(12), responseExcerpt: "upstream unavailable", error: "HTTP 503"),
            interrupted: false
        )))
        try await apply(TaskEvent(taskID: "a", at: at(7), actor: "test", kind: .occurrenceSkipped(Skip(
            occurrence: .scheduled("a", at: at(60)), scheduledAt: at(60), attempt: 1,
            reason: SkipReason(rawValue: "a reason of the future"), occurrenceKind: .scheduled, nextDueAt: nil
        ))))
        try await apply(started("b", .scheduled("b", at: at(60)), scheduledAt: at(60), at: at(61)))
        try await apply(succeeded("b", RunID(.scheduled("b", at: at(60)), attempt: 1), at: at(62), RunOutcome(statusCode: 204)))

        let loaded = try #require(try ProjectionSnapshot.load(ProjectionSnapshot.make(projection), runRetention: 4))
        #expect(loaded == projection)
        #expect(loaded.digest == projection.digest)
        // In memory: where the texts are, not the texts.
        let kept = loaded.runLog.records(of: "a")
        #expect(kept.map(\.outcome) == [.failed, .skipped])
        #expect(kept.map(\.detailPosition) == [2, 3])
        #expect(kept.allSatisfy { $0.error == nil && $0.responseExcerpt == nil && $0.skipReason == nil })
        // Read from the journal.
        let records = try await RunRecord.withDetails(kept, from: journal)
        #expect(records[0].occurrence == manual)
        #expect(records[0].error == "HTTP 503")
        #expect(records[0].responseExcerpt == "upstream unavailable")
        #expect(records[0].duration == .milliseconds(12))
        #expect(records[1].skipReason == SkipReason(rawValue: "a reason of the future"))
        #expect(records[1].error == nil)
        // A success with neither error nor excerpt points nowhere: nothing to read.
        let b = loaded.runLog.records(of: "b")
        #expect(b.map(\.outcome) == [.succeeded])
        #expect(b[0].detailPosition == nil)
        #expect(try await RunRecord.withDetails(b, from: journal) == b)
        // A position that holds no such event is an error, not a silent gap.
        var wrong = kept[0]
        wrong.detailPosition = 99
        await #expect(throws: ProjectionError.self) { _ = try await RunRecord.withDetails([wrong], from: journal) }
    }
}
