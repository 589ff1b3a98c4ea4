import AlmanacTesting
@testable import Journal
@testable import Projections
import Scheduling
import Testing

/// A replay folds the parts of the projection on several cores (`ParallelFold`): for any
/// number of workers and any batch size it builds the projection one core builds.
@Suite("Parallel replay")
struct ParallelReplayTests {
    /// A journal of random commands over 48 task slots (tasks in many parts of the table),
    /// with records of a reserved stream among them; and the live projection of it.
    static func journal(seed: UInt64, steps: Int) async throws -> Harness {
        var random = SeededRandom(seed: seed)
        var harness = Harness()
        var slots = ReplayPropertyTests.Slots(count: 48)
        var now = seconds(0)
        for step in 0..<steps {
            now = Instant(microsecondsSinceEpoch: now.microsecondsSinceEpoch + Int64.random(in: 0...4, using: &random) * 1_000_000)
            let (task, action) = ReplayPropertyTests.randomCommand(&harness, slots: &slots, now: now, random: &random)
            try await harness.run(task, action, at: now)
            if step % 97 == 0 {
                let record = ProposedEvent(type: "AccessNote", schemaVersion: 1, recordedAt: now.microsecondsSinceEpoch, payload: [1, 2, 3])
                _ = try await harness.journal.append([record], to: StreamID("$access"), expectedVersion: .any)
            }
        }
        return harness
    }

    /// A snapshot lent in chunks (as LMDB keeps it) loads as the whole one does, wherever the
    /// chunks split it: through the checksum, the part lengths and the parts.
    @Test func aSnapshotInChunksLoadsAsTheWholeOneDoes() async throws {
        let harness = try await Self.journal(seed: 21, steps: 1_500)
        let stored = ProjectionSnapshot.make(harness.live)
        let whole = try #require(try ProjectionSnapshot.load(stored, runRetention: 5))
        #expect(whole == harness.live)
        var random = SeededRandom(seed: 22)
        try stored.bytes.withUnsafeBytes { bytes in
            for sizes in [[1, 2, 3, 600], [stored.bytes.count / 3], [4096], [1]] {
                // Chunks of the sizes given in turn (an empty one among them), the last one
                // taking what is left.
                var chunks: [UnsafeRawBufferPointer] = [UnsafeRawBufferPointer(rebasing: bytes[0..<0])]
                var offset = 0
                var turn = 0
                while offset < bytes.count {
                    let size = min(sizes[turn % sizes.count] + Int.random(in: 0...2, using: &random), bytes.count - offset)
                    chunks.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)]))
                    offset += size
                    turn += 1
                }
                let lent = BorrowedSnapshot(position: stored.position, format: stored.format, chunks: chunks)
                #expect(lent.count == bytes.count)
                let loaded = try #require(try ProjectionSnapshot.load(lent, runRetention: 5))
                #expect(loaded == whole, "chunks of \(sizes)")
                #expect(loaded.digest == whole.digest)
                var live = harness.live
                var mutable = loaded
                let end = Instant(microsecondsSinceEpoch: .max)
                #expect(mutable.due(at: end) == live.due(at: end))
            }
        }
        // A byte changed in a chunk is caught by the checksum.
        var damaged = stored.bytes
        damaged[damaged.count - 5] ^= 1
        try damaged.withUnsafeBytes { bytes in
            let half = bytes.count / 2
            let lent = BorrowedSnapshot(position: stored.position, format: stored.format, chunks: [
                UnsafeRawBufferPointer(rebasing: bytes[..<half]), UnsafeRawBufferPointer(rebasing: bytes[half...]),
            ])
            #expect(throws: ProjectionError.self) { try ProjectionSnapshot.load(lent, runRetention: 5) }
        }
    }

    /// A stream id that is not valid UTF-8 (a journal made by hand: the server writes only
    /// validated ids) is read as the string `String(decoding:as:)` makes of it, on any number
    /// of workers, as one core reads it: its later events find the task its creation made.
    @Test func aStreamIdThatIsNotUTF8IsReadAsItsRepairedString() throws {
        let raw: [UInt8] = [0x74, 0xFF, 0x2D, 0x61]  // "t", an invalid byte, "-a"
        let id = TaskID(String(decoding: raw, as: UTF8.self))
        let occurrence = OccurrenceID.scheduled(id, at: seconds(60))
        let run = RunID(occurrence, attempt: 1)
        let events = [
            TaskEvent(taskID: id, at: seconds(0), actor: "test", kind: .created(everyMinute(), nextDueAt: seconds(60))),
            TaskEvent(taskID: id, at: seconds(60), actor: "test", kind: .runStarted(RunStart(
                run: run, occurrence: occurrence, scheduledAt: seconds(60), dueAt: seconds(60), attempt: 1,
                occurrenceKind: .scheduled, nextDueAt: seconds(120)
            ))),
            TaskEvent(taskID: id, at: seconds(61), actor: "test", kind: .runSucceeded(run: run, outcome: RunOutcome(statusCode: 200))),
        ]
        let serial = Self.foldedOnOneCore(events)
        for workers in [2, 3] {
            let parallel = try Self.foldedInParallel(events, streamID: raw, workers: workers)
            #expect(parallel == serial, "\(workers) workers")
            #expect(parallel.tasks[id]?.counts.succeeded == 1)
            #expect(parallel.runLog.records(of: id).map(\.outcome) == [.succeeded])
        }
    }

    /// `events`, applied one by one at positions 1, 2, …
    static func foldedOnOneCore(_ events: [TaskEvent]) -> Projection {
        var serial = Projection(runRetention: 5)
        for (number, event) in events.enumerated() {
            serial.apply(event, position: UInt64(number + 1), streamVersion: UInt64(number + 1))
        }
        return serial
    }

    /// `events`, stored in records of the stream `streamID` at positions 1, 2, … and folded
    /// by `workers` workers in one batch, read in place.
    static func foldedInParallel(_ events: [TaskEvent], streamID raw: [UInt8], workers: Int) throws -> Projection {
        let encoded = events.map(EventCodec.encode)
        var parallel = Projection(runRetention: 5)
        parallel.deferDueIndex()
        let fold = ParallelFold(taking: &parallel, workers: workers)
        // Every record's type and payload in one buffer, lent for the whole fold.
        var buffer: [UInt8] = []
        var spans: [(type: Range<Int>, payload: Range<Int>)] = []
        for event in encoded {
            let type = buffer.count..<(buffer.count + event.type.utf8.count)
            buffer += Array(event.type.utf8)
            let payload = buffer.count..<(buffer.count + event.payload.count)
            buffer += event.payload
            spans.append((type, payload))
        }
        try raw.withUnsafeBytes { streamID in
            try buffer.withUnsafeBytes { bytes in
                let records = encoded.indices.map { number in
                    BorrowedRecord(
                        position: UInt64(number + 1), streamVersion: UInt64(number + 1),
                        recordedAt: events[number].at.microsecondsSinceEpoch, schemaVersion: encoded[number].schemaVersion,
                        streamID: streamID, type: UnsafeRawBufferPointer(rebasing: bytes[spans[number].type]),
                        payload: UnsafeRawBufferPointer(rebasing: bytes[spans[number].payload]), checksum: 0
                    )
                }
                try fold.apply(records[...])
            }
        }
        fold.finish(into: &parallel)
        parallel.rebuildDueIndex()
        return parallel
    }

    /// A run's end is folded from its bytes when its run is in flight, and decoded when not
    /// (a journal the decider did not write): both as one core folds them.
    @Test func runsEndedInFlightOrNotAreFoldedAsOneCoreFoldsThem() throws {
        let id = TaskID("task-ends")
        let first = OccurrenceID.scheduled(id, at: seconds(60))
        let manual = OccurrenceID.manual(id, trigger: "op")
        let start = { (occurrence: OccurrenceID, attempt: Int, at: Int64) in
            TaskEvent(taskID: id, at: seconds(at), actor: "scheduler", kind: .runStarted(RunStart(
                run: RunID(occurrence, attempt: attempt), occurrence: occurrence, scheduledAt: seconds(60), dueAt: seconds(at),
                attempt: attempt, occurrenceKind: occurrence == manual ? .manual : .scheduled, nextDueAt: seconds(120)
            )))
        }
        let events = [
            TaskEvent(taskID: id, at: seconds(0), actor: "test", kind: .created(everyMinute(), nextDueAt: seconds(60))),
            start(first, 1, 60),
            TaskEvent(taskID: id, at: seconds(61), actor: "alice", reason: "by hand", kind: .runTriggered(trigger: "op", occurrence: manual)),
            start(manual, 1, 61),
            // Not in flight: never started.
            TaskEvent(taskID: id, at: seconds(62), actor: "scheduler", kind: .runSucceeded(
                run: RunID(first, attempt: 7), outcome: RunOutcome(statusCode: 204)
            )),
            TaskEvent(taskID: id, at: seconds(63), actor: "scheduler", reason: "stopped", kind: .runFailed(
                run: RunID(first, attempt: 1), outcome: RunOutcome(statusCode: 500, duration: .seconds(1), responseExcerpt: "oops"),
                interrupted: true
            )),
            // Not in flight any more: ended just above.
            TaskEvent(taskID: id, at: seconds(64), actor: "scheduler", kind: .runSucceeded(
                run: RunID(first, attempt: 1), outcome: RunOutcome(statusCode: 200)
            )),
            TaskEvent(taskID: id, at: seconds(65), actor: "scheduler", kind: .runFailed(
                run: RunID(manual, attempt: 1), outcome: RunOutcome(error: "refused"), interrupted: false
            )),
        ]
        let serial = Self.foldedOnOneCore(events)
        for workers in [2, 3] {
            let parallel = try Self.foldedInParallel(events, streamID: Array(id.rawValue.utf8), workers: workers)
            #expect(parallel == serial, "\(workers) workers")
            #expect(parallel.digest == serial.digest)
            #expect(parallel.tasks[id]?.counts == RunCounts(runs: 2, succeeded: 2, failed: 2, skipped: 0))
            #expect(parallel.tasks[id]?.inFlight.isEmpty == true)
            // The late success of a run no longer in flight still rewrites its record.
            #expect(parallel.runLog.records(of: id).map(\.outcome) == [.succeeded, .failed])
            #expect(parallel.runLog.records(of: id).map(\.detailPosition) == [nil, 8])
            #expect(parallel.inconsistencies == 0)
        }
    }

    /// A run's end whose id is the run in flight's spelled with other bytes (a precomposed
    /// "é" against "e" and a combining accent: equal strings, unequal bytes) is no match for
    /// the bytes; it is decoded, and ends that run as on one core.
    @Test func aRunEndSpelledWithOtherBytesEndsTheRunAsOnOneCore() throws {
        let id = TaskID("task-spelled")
        let started = OccurrenceID(rawValue: "task-spelled!\u{E9}")
        let ended = RunID(rawValue: "task-spelled!e\u{301}#1")
        #expect(RunID(started, attempt: 1) == ended)
        #expect(!RunID(started, attempt: 1).rawValue.utf8.elementsEqual(ended.rawValue.utf8))
        let events = [
            TaskEvent(taskID: id, at: seconds(0), actor: "test", kind: .created(everyMinute(), nextDueAt: seconds(60))),
            TaskEvent(taskID: id, at: seconds(1), actor: "alice", kind: .runTriggered(trigger: "\u{E9}", occurrence: started)),
            TaskEvent(taskID: id, at: seconds(1), actor: "scheduler", kind: .runStarted(RunStart(
                run: RunID(started, attempt: 1), occurrence: started, scheduledAt: seconds(1), dueAt: seconds(1),
                attempt: 1, occurrenceKind: .manual, nextDueAt: seconds(60)
            ))),
            TaskEvent(taskID: id, at: seconds(2), actor: "scheduler", kind: .runSucceeded(run: ended, outcome: RunOutcome(statusCode: 200))),
        ]
        let serial = Self.foldedOnOneCore(events)
        #expect(serial.tasks[id]?.inFlight.isEmpty == true)
        for workers in [2, 3] {
            let parallel = try Self.foldedInParallel(events, streamID: Array(id.rawValue.utf8), workers: workers)
            #expect(parallel == serial, "\(workers) workers")
            #expect(parallel.tasks[id]?.inFlight.isEmpty == true)
            #expect(parallel.tasks[id]?.counts.succeeded == 1)
        }
    }

    @Test(arguments: [(UInt64(11), 2), (UInt64(12), 3), (UInt64(13), 64)])
    func anyNumberOfWorkersBuildsTheProjectionOneCoreBuilds(seed: UInt64, workers: Int) async throws {
        let harness = try await Self.journal(seed: seed, steps: 2_500)
        let head = try await harness.journal.head()
        let one = try await Replay.build(from: harness.journal, runRetention: 5, workers: 1)
        #expect(one == harness.live)
        #expect(one.position == head)
        for batchSize in [1, 7, 4096] {
            var many = try await Replay.build(from: harness.journal, runRetention: 5, batchSize: batchSize, workers: workers)
            #expect(many == one, "\(workers) workers, batches of \(batchSize)")
            #expect(many.digest == one.digest)
            #expect(many.position == head)
            #expect(many.liveTasksByNamespace == harness.live.liveTasksByNamespace)
            #expect(many.inconsistencies == 0)
            var live = harness.live
            let end = Instant(microsecondsSinceEpoch: .max)
            #expect(many.due(at: end) == live.due(at: end))
        }
        #expect(harness.live.tasks.count > 40, "the journal spans many tasks: \(harness.live.tasks.count)")
        #expect(harness.live.runLog.recordCount > 100)
    }

    /// A start from a snapshot folds the tail on several cores and brings the snapshot's due
    /// index up to date with the tasks the tail changed.
    @Test(arguments: [2, 3])
    func aSnapshotPlusItsTailOnManyCoresEqualsTheLiveProjection(workers: Int) async throws {
        var random = SeededRandom(seed: 41)
        var harness = Harness()
        var slots = ReplayPropertyTests.Slots(count: 48)
        var now = seconds(0)
        var checked = 0
        for step in 0..<1_500 {
            now = Instant(microsecondsSinceEpoch: now.microsecondsSinceEpoch + Int64.random(in: 0...4, using: &random) * 1_000_000)
            let (task, action) = ReplayPropertyTests.randomCommand(&harness, slots: &slots, now: now, random: &random)
            try await harness.run(task, action, at: now)
            if step % 150 == 75 { try await harness.journal.saveSnapshot(ProjectionSnapshot.make(harness.live)) }
            guard step % 150 == 149 else { continue }
            // The newest snapshot is 74 steps old: its tail changes tasks in many parts.
            let (started, used) = try await Replay.fromSnapshot(of: harness.journal, runRetention: 5, workers: workers)
            let (serial, _) = try await Replay.fromSnapshot(of: harness.journal, runRetention: 5, workers: 1)
            #expect(used != nil && used! < harness.live.position)
            #expect(started == harness.live, "step \(step)")
            #expect(started.liveTasksByNamespace == harness.live.liveTasksByNamespace)
            var live = harness.live
            var fromSnapshot = started
            var fromSerial = serial
            let end = Instant(microsecondsSinceEpoch: .max)
            let due = live.due(at: end)
            #expect(fromSnapshot.due(at: end) == due, "step \(step): due entries differ")
            #expect(fromSerial.due(at: end) == due)
            #expect(fromSnapshot.dueIndex.liveCount == fromSerial.dueIndex.liveCount)
            #expect(fromSnapshot.nextDue() == live.nextDue())
            checked += 1
        }
        #expect(checked == 10)
    }

    /// The LMDB journal lends its records in place (`BorrowingJournal`): the same journal in
    /// LMDB replays to the live projection, in full and from a snapshot plus its tail.
    @Test func aReplayReadingLMDBRecordsInPlaceBuildsTheLiveProjection() async throws {
        let harness = try await Self.journal(seed: 51, steps: 2_000)
        let head = try await harness.journal.head()
        try await TemporaryDirectory.with { path in
            let lmdb = try await Self.copy(of: harness.journal, into: path)
            defer { lmdb.close() }
            #expect(try await lmdb.head() == head)
            // Batches of 5 take many read transactions (`Replay.batchesPerTransaction` each).
            for (workers, batchSize) in [(2, 4096), (3, 5), (1, 4096)] {
                let replayed = try await Replay.build(from: lmdb, runRetention: 5, batchSize: batchSize, workers: workers)
                #expect(replayed == harness.live, "\(workers) workers, batches of \(batchSize)")
                #expect(replayed.liveTasksByNamespace == harness.live.liveTasksByNamespace)
            }
            let middle = try await Replay.build(from: lmdb, until: .position(head / 2), runRetention: 5)
            try await lmdb.saveSnapshot(ProjectionSnapshot.make(middle))
            var (started, used) = try await Replay.fromSnapshot(of: lmdb, runRetention: 5, workers: 2)
            #expect(used == head / 2)
            #expect(started == harness.live)
            var live = harness.live
            let end = Instant(microsecondsSinceEpoch: .max)
            #expect(started.due(at: end) == live.due(at: end))
        }
    }

    /// In memory (a batch at a time) and in LMDB (read in place, the next batches read while
    /// one is folded, batches cut within a batch and at its end).
    @Test func aReplayUpToAPositionOrAnInstantStopsThereOnManyCores() async throws {
        let harness = try await Self.journal(seed: 21, steps: 1_500)
        let head = try await harness.journal.head()
        let events = try await harness.journal.read(after: 0, limit: Int(head))
        let instant = Instant(microsecondsSinceEpoch: events[events.count / 2].recordedAt)
        try await TemporaryDirectory.with { path in
            let lmdb = try await Self.copy(of: harness.journal, into: path)
            defer { lmdb.close() }
            for journal in [harness.journal as any Journal, lmdb] {
                for position in [UInt64(1), 64, 65, head / 3, head - 1] {
                    let one = try await Replay.build(from: journal, until: .position(position), runRetention: 5, workers: 1)
                    let many = try await Replay.build(from: journal, until: .position(position), runRetention: 5, batchSize: 64, workers: 2)
                    #expect(many == one, "up to \(position), \(type(of: journal))")
                    #expect(many.position == position)
                }
                let one = try await Replay.build(from: journal, until: .instant(instant), runRetention: 5, workers: 1)
                let many = try await Replay.build(from: journal, until: .instant(instant), runRetention: 5, batchSize: 64, workers: 2)
                #expect(many == one)
                #expect(many.position == one.position)
                #expect(many.position >= UInt64(events.count / 2) && many.position < head)
            }
        }
    }

    /// An undecodable event in the middle of the journal: every replay, on one core or many,
    /// in memory or in LMDB, names its position.
    @Test func anEventThatCannotBeDecodedStopsTheReplayAtItsPosition() async throws {
        let harness = try await Self.journal(seed: 31, steps: 400)
        let journal = harness.journal
        let bad = ProposedEvent(type: "RunStarted", schemaVersion: 1, recordedAt: 0, payload: [0xFF])
        let task = try #require(harness.live.tasks.keys.first { _ in true })
        let version = try #require(harness.live.tasks[task]?.version)
        let appended = try await journal.append([bad], to: StreamID(task.rawValue), expectedVersion: .exactly(version))
        // More after it, of other tasks and of its own.
        let more = try await Self.journal(seed: 32, steps: 300).journal.read(after: 0, limit: 100_000)
        for event in more {
            let proposed = ProposedEvent(type: event.type, schemaVersion: event.schemaVersion, recordedAt: event.recordedAt, payload: event.payload)
            _ = try await journal.append([proposed], to: StreamID("other-" + event.streamID.rawValue), expectedVersion: .any)
        }
        try await TemporaryDirectory.with { path in
            let lmdb = try await Self.copy(of: journal, into: path)
            defer { lmdb.close() }
            for source in [journal as any Journal, lmdb] {
                for (workers, batchSize) in [(1, 16), (2, 16), (5, 16), (2, 1), (3, 4096)] {
                    do {
                        _ = try await Replay.build(from: source, runRetention: 5, batchSize: batchSize, workers: workers)
                        Issue.record("a replay on \(workers) workers folded an undecodable event")
                    } catch let error as ProjectionError {
                        #expect(error.position == appended.firstPosition, "\(workers) workers, \(type(of: source)): \(error)")
                    }
                }
            }
        }
    }

    /// A worker's failure lies in a batch read before a read that fails: the fold names the
    /// worker's position, the earliest, as reading batch by batch did.
    @Test(arguments: [2, 3])
    func aFoldFailureComesBeforeALaterReadError(workers: Int) throws {
        struct ReadFailed: Error {}
        let id = TaskID("task-fails")
        let created = EventCodec.encode(TaskEvent(
            taskID: id, at: seconds(0), actor: "test", kind: .created(everyMinute(), nextDueAt: seconds(60))
        ))
        let typeBytes = Array(created.type.utf8)
        let badType = Array("RunStarted".utf8)
        var projection = Projection(runRetention: 5)
        projection.deferDueIndex()
        let fold = ParallelFold(taking: &projection, workers: workers)
        var batches = 0
        try Array(id.rawValue.utf8).withUnsafeBytes { stream in
            try typeBytes.withUnsafeBytes { type in
                try created.payload.withUnsafeBytes { payload in
                    try badType.withUnsafeBytes { bad in
                        try [UInt8]([0xFF]).withUnsafeBytes { badPayload in
                            do {
                                try fold.apply { records in
                                    batches += 1
                                    guard batches == 1 else { throw ReadFailed() }
                                    records = [
                                        BorrowedRecord(position: 1, streamVersion: 1, recordedAt: 0, schemaVersion: created.schemaVersion,
                                                       streamID: stream, type: type, payload: payload, checksum: 0),
                                        BorrowedRecord(position: 2, streamVersion: 2, recordedAt: 0, schemaVersion: 1,
                                                       streamID: stream, type: bad, payload: badPayload, checksum: 0),
                                    ]
                                    return true
                                }
                                Issue.record("an undecodable event was folded")
                            } catch let error as ProjectionError {
                                #expect(error.position == 2, "\(error)")
                            } catch {
                                Issue.record("the read's error came first: \(error)")
                            }
                        }
                    }
                }
            }
        }
        fold.finish(into: &projection)
    }

    /// An LMDB journal in `path` holding `journal`'s events, at the same positions.
    static func copy(of journal: some Journal, into path: String) async throws -> LMDBJournal {
        let lmdb = try LMDBJournal(directory: path)
        let events = try await journal.read(after: 0, limit: Int(try await journal.head()))
        let requests = events.map { event in
            AppendRequest(
                streamID: event.streamID, expectedVersion: .exactly(event.streamVersion - 1),
                events: [ProposedEvent(type: event.type, schemaVersion: event.schemaVersion, recordedAt: event.recordedAt, payload: event.payload)]
            )
        }
        for result in await lmdb.append(requests) { _ = try result.get() }
        return lmdb
    }
}
