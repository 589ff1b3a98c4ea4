import AlmanacTesting
import Foundation
@testable import Journal
import LMDB
import Testing

@Suite("LMDB journal")
struct LMDBJournalTests {
    @Test func reopeningKeepsEventsAndContinuesTheChain() async throws {
        try await TemporaryDirectory.with { path in
            let identity = try await LMDBJournal.withJournal(at: path) { journal in
                _ = try await journal.append([event("1"), event("2")], to: "s", expectedVersion: .noStream)
                return journal.identity
            }
            try await LMDBJournal.withJournal(at: path) { journal in
                #expect(journal.identity == identity)
                #expect(identity.count == 32)
                #expect(try await journal.head() == 2)
                let result = try await journal.append([event("3")], to: "s", expectedVersion: .exactly(2))
                #expect(result.firstPosition == 3)
                let report = try journal.verifyIntegrity()
                #expect(report.isClean, "\(report.problems)")
                #expect(report.eventCount == 3)
                #expect(report.streamCount == 1)
                #expect(report.lastChecksum == (try await journal.read(after: 2, limit: 1)).first?.checksum)
            }
        }
    }

    /// A record reader hands out batches that follow each other across segments, in one read
    /// transaction: every record read stays valid (and equal to what `read` returns) until
    /// the call ends, and past the end it reads nothing.
    @Test func aRecordReaderReadsBatchAfterBatchInOneTransaction() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { journal in
                for round in 0..<5 {  // five commits: five segments
                    let events = (0..<7).map { event("\(round)-\($0)") }
                    _ = try await journal.append(events, to: StreamID("s\(round)"), expectedVersion: .noStream)
                }
                let expected = try await journal.read(after: 3, limit: 100)
                #expect(expected.count == 32)
                let (read, batches) = try journal.withRecordReader(after: 3) { next in
                    var batches: [Int] = []
                    var all: [BorrowedRecord] = []
                    var records: [BorrowedRecord] = []
                    repeat {
                        records.removeAll()
                        try? next(&records, 6)
                        batches.append(records.count)
                        all += records
                    } while !records.isEmpty
                    // Read again after the others: the first batch's bytes are still there.
                    let events = all.map { record in
                        RecordedEvent(
                            position: record.position, streamID: StreamID(String(decoding: record.streamID, as: UTF8.self)),
                            streamVersion: record.streamVersion, type: record.typeName, schemaVersion: record.schemaVersion,
                            recordedAt: record.recordedAt, payload: Array(record.payload), checksum: record.checksum
                        )
                    }
                    return (events, batches)
                }
                #expect(batches == [6, 6, 6, 6, 6, 2, 0])
                #expect(read == expected)
                let none = try journal.withRecordReader(after: 35) { next in
                    var records: [BorrowedRecord] = []
                    try? next(&records, 10)
                    return records.count
                }
                #expect(none == 0)
            }
        }
    }

    /// The snapshot as `withLatestSnapshot` lends it, its chunks joined, and how many chunks.
    private func lent(_ journal: LMDBJournal, atOrBefore position: UInt64) async throws -> (snapshot: StoredSnapshot, chunks: Int)? {
        try await journal.withLatestSnapshot(atOrBefore: position) { lent in
            lent.map { (StoredSnapshot(position: $0.position, format: $0.format, bytes: $0.chunks.flatMap { Array($0) }), $0.chunks.count) }
        }
    }

    @Test func snapshotsAreWrittenInChunksAndOnlyPublishedOnesAreRead() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { journal in
                // Three chunks and a bit; every byte different from its neighbours.
                let size = 3 * LMDBJournal.snapshotChunkSize + 12_345
                let big = StoredSnapshot(position: 10, format: "test/1", bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) })
                try await journal.saveSnapshot(big)
                #expect(try await journal.latestSnapshot(atOrBefore: .max) == big)
                #expect(try await journal.latestSnapshot(atOrBefore: 10) == big)
                #expect(try await journal.latestSnapshot(atOrBefore: 9) == nil)
                // Lent in place: the same bytes, chunk by chunk.
                let whole = try #require(try await lent(journal, atOrBefore: .max))
                #expect(whole.snapshot == big)
                #expect(whole.chunks == 4)
                #expect(try await lent(journal, atOrBefore: 10)?.snapshot == big)
                #expect(try await lent(journal, atOrBefore: 9) == nil)

                // A save cut short: chunks at position 20 with no manifest are not a snapshot.
                let snapshots = journal.snapshots
                try await journal.writer!.perform { txn in
                    var key = JournalLayout.eventKey(20)
                    key.appendBigEndian(UInt32(0))
                    try txn.put([1, 2, 3], forKey: key, in: snapshots)
                }
                #expect(try await journal.latestSnapshot(atOrBefore: .max) == big)
                #expect(try await journal.latestSnapshot(atOrBefore: 25) == big)
                #expect(try await lent(journal, atOrBefore: 25)?.snapshot == big)

                // Empty bytes still make a snapshot (one empty chunk); the next saves keep the
                // newest three and remove the unpublished chunks.
                let empty = StoredSnapshot(position: 30, format: "test/1", bytes: [])
                try await journal.saveSnapshot(empty)
                #expect(try await journal.latestSnapshot(atOrBefore: .max) == empty)
                for position: UInt64 in [40, 50] {
                    try await journal.saveSnapshot(StoredSnapshot(position: position, format: "test/1", bytes: [UInt8(position)]))
                }
                #expect(try await journal.latestSnapshot(atOrBefore: 45)?.bytes == [40])
                #expect(try await journal.latestSnapshot(atOrBefore: 35) == empty)
                #expect(try await lent(journal, atOrBefore: 35)?.snapshot == empty)
                #expect(try await journal.latestSnapshot(atOrBefore: 29) == nil, "only the newest three are kept")
                let keys = try journal.run { txn in
                    try txn.withCursor(in: snapshots) { cursor in
                        var keys: [[UInt8]] = []
                        var entry = try cursor.first()
                        while let (key, _) = entry {
                            keys.append(Array(key))
                            entry = try cursor.next()
                        }
                        return keys
                    }
                }
                #expect(keys.count == 6, "three manifests and their one chunk each: \(keys)")
            }
        }
    }

    @Test func aSnapshotInTheLayoutBeforeChunksIsStillRead() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { journal in
                let old = StoredSnapshot(position: 7, format: "test/0", bytes: [9, 8, 7])
                let snapshots = journal.snapshots
                let value = old.encoded
                try await journal.writer!.perform { txn in try txn.put(value, forKey: JournalLayout.eventKey(7), in: snapshots) }
                #expect(try await journal.latestSnapshot(atOrBefore: .max) == old)
                #expect(try await lent(journal, atOrBefore: .max)?.snapshot == old)
            }
        }
    }

    @Test func replacingADirectoryKeepsTheOldOneUnderAFreeNameAndRefusesWhileLocked() async throws {
        try await TemporaryDirectory.with { base in
            let files = FileManager.default
            for (name, content) in [("live", "old"), ("new1", "first"), ("new2", "second"), ("backup", "taken")] {
                try files.createDirectory(atPath: "\(base)/\(name)", withIntermediateDirectories: true)
                try content.write(toFile: "\(base)/\(name)/marker", atomically: true, encoding: .utf8)
            }
            func marker(_ name: String) throws -> String { try String(contentsOfFile: "\(base)/\(name)/marker", encoding: .utf8) }
            // "backup" is taken, so the old directory becomes "backup-2"; then "backup-3".
            #expect(try LMDBJournal.replaceDirectory("\(base)/live", with: "\(base)/new1", keepingOldAs: "\(base)/backup") == "\(base)/backup-2")
            #expect(try marker("live") == "first")
            #expect(try marker("backup-2") == "old")
            #expect(try LMDBJournal.replaceDirectory("\(base)/live", with: "\(base)/new2", keepingOldAs: "\(base)/backup") == "\(base)/backup-3")
            #expect(try marker("live") == "second")
            #expect(try marker("backup-3") == "first")
            #expect(try marker("backup") == "taken")
            #expect(!files.fileExists(atPath: "\(base)/new1") && !files.fileExists(atPath: "\(base)/new2"))
            // While a journal is open for writing there, nothing moves.
            try files.createDirectory(atPath: "\(base)/new3", withIntermediateDirectories: true)
            try await LMDBJournal.withJournal(at: "\(base)/live") { _ in
                #expect(throws: JournalError.self) {
                    try LMDBJournal.replaceDirectory("\(base)/live", with: "\(base)/new3", keepingOldAs: "\(base)/backup")
                }
            }
            #expect(try marker("live") == "second")
            #expect(files.fileExists(atPath: "\(base)/new3"))
        }
    }

    @Test func aJournalOfAnotherFormatIsRefused() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { _ in }
            let environment = try Environment(path: path)
            let meta = try environment.openDatabase(named: "meta", create: false)
            try environment.withWriteTransaction { txn in
                try txn.put([0, 0, 0, 2], forKey: "format-version", in: meta)
            }
            environment.close()
            let error = #expect(throws: JournalError.self) { _ = try LMDBJournal(directory: path) }
            #expect(error?.code == .formatMismatch)
            #expect(error?.message.contains("format 2") == true)
        }
    }

    @Test func aReadOnlyJournalReadsAndRefusesAppendsAndWaiting() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { writer in
                _ = try await writer.append([event("1"), event("2")], to: "s", expectedVersion: .noStream)
            }
            try await LMDBJournal.withJournal(at: path, configuration: .init(readOnly: true)) { (reader: LMDBJournal) async throws in
                #expect(texts(try await reader.read(after: 0, limit: 10)) == ["1", "2"])
                let error = await #expect(throws: JournalError.self) {
                    try await reader.append([event("x")], to: "s", expectedVersion: .any)
                }
                #expect(error?.code == .readOnly)
                await #expect(throws: JournalError.self) { try await reader.waitForEvents(after: 2) }
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aReadOnlyJournalReadsBesideAWriterInAnotherProcess() async throws {
        let torture = try BuiltProduct.path("journal-torture")
        try await TemporaryDirectory.with { path in
            let child = try ChildProcess(executable: torture, arguments: [path, "4", "\(1 << 30)", "50"])
            defer {
                child.send(SIGKILL)
                _ = child.waitForExit()
            }
            #expect(await child.waitFor(timeout: 30) { $0.filter { $0.hasPrefix("ack ") }.count >= 20 })
            let reader = try LMDBJournal(directory: path, configuration: .init(readOnly: true))
            defer { reader.close() }
            var seen: UInt64 = 0
            for _ in 0..<5 {
                let head = try reader.currentHead()
                #expect(head >= seen)
                let events = try reader.readEvents(after: 0, limit: Int(head))
                #expect(events.map(\.position) == Array(1...head))
                seen = head
                let report = try reader.verifyIntegrity()
                #expect(report.isClean, "\(report.problems.prefix(3))")
                _ = await child.waitFor(timeout: 0.05) { _ in false }
            }
            #expect(try reader.currentHead() > 0)
        }
    }

    @Test func aSecondWriterIsRefusedWhileTheFirstIsOpen() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path) { _ in
                let error = #expect(throws: JournalError.self) { _ = try LMDBJournal(directory: path) }
                #expect(error?.code == .locked)
            }
            // Once the first closes, a writer may open again.
            try await LMDBJournal.withJournal(at: path) { (journal: LMDBJournal) async throws in #expect(try await journal.head() == 0) }
        }
    }

    @Test func readingAfterCloseIsAClosedErrorNotACrash() async throws {
        try await TemporaryDirectory.with { path in
            let journal = try LMDBJournal(directory: path)
            for index in 0..<10 { _ = try await journal.append([event("\(index)")], to: "s", expectedVersion: .any) }
            var iterator = journal.subscribe(after: 0, batchSize: 1).makeAsyncIterator()
            #expect(try await iterator.next()?.position == 1)
            journal.close()
            #expect(try await iterator.next() == nil)
            let error = await #expect(throws: JournalError.self) { try await journal.read(after: 0, limit: 5) }
            #expect(error?.code == .closed)
        }
    }

    @Test func readingAfterTheLastPossiblePositionIsEmpty() async throws {
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path, configuration: .init(indexFlushThreshold: 1)) { journal in
                _ = try await journal.append([event("1"), event("2")], to: "s", expectedVersion: .noStream)
                #expect(try await journal.read(after: .max, limit: 10).isEmpty)
                #expect(try await journal.read(stream: "s", after: .max, limit: 10).isEmpty)
            }
        }
    }

    @Test func theIndexCatchesUpInSlicesAndEveryStreamStaysReadableAndVersioned() async throws {
        // Threshold 16: past it, each commit indexes a slice of the oldest entries, so the
        // checkpoint moves in steps while streams keep appending with exact expected versions.
        try await TemporaryDirectory.with { path in
            var versions: [StreamID: UInt64] = [:]
            let streams: [StreamID] = (0..<7).map { StreamID("s\($0)") }
            for round in 0..<2 {
                try await LMDBJournal.withJournal(at: path, configuration: .init(indexFlushThreshold: 16, gatheringWindow: .zero)) { journal in
                    for step in 0..<300 {
                        let stream = streams[(step * 5 + round) % streams.count]
                        let current = versions[stream] ?? 0
                        let result = try await journal.append(
                            [event("\(round)-\(step)")], to: stream, expectedVersion: current == 0 ? .noStream : .exactly(current)
                        )
                        versions[stream] = result.streamVersion
                        #expect(result.streamVersion == current + 1)
                        if step % 50 == 49 {
                            let report = try journal.verifyIntegrity()
                            #expect(report.isClean, "\(report.problems)")
                            for stream in streams {
                                let read = try await journal.read(stream: stream, after: 0, limit: 10_000)
                                #expect(read.map(\.streamVersion) == Array(1...(versions[stream] ?? 0)), "\(stream)")
                                #expect(try await journal.version(of: stream) == versions[stream] ?? 0)
                            }
                        }
                    }
                }
            }
            #expect(versions.values.reduce(0, +) == 600)
        }
    }

    @Test func canonicallyEquivalentStreamIDsAreDistinctStreams() async throws {
        let composed = StreamID("caf\u{E9}")
        let decomposed = StreamID("cafe\u{301}")
        #expect(composed != decomposed)
        try await TemporaryDirectory.with { path in
            try await LMDBJournal.withJournal(at: path, configuration: .init(indexFlushThreshold: 3)) { journal in
                for _ in 0..<3 { _ = try await journal.append([event("nfc")], to: composed, expectedVersion: .any) }
                _ = try await journal.append([event("nfd")], to: decomposed, expectedVersion: .noStream)
                let next = try await journal.append([event("nfc")], to: composed, expectedVersion: .exactly(3))
                #expect(next.streamVersion == 4)
                for index in 0..<5 { _ = try await journal.append([event("\(index)")], to: "other", expectedVersion: .any) }
                #expect(try await journal.version(of: decomposed) == 1)
                #expect(texts(try await journal.read(stream: decomposed, after: 0, limit: 10)) == ["nfd"])
                let report = try journal.verifyIntegrity()
                #expect(report.isClean, "\(report.problems)")
            }
        }
    }

    @Test func openingAMissingJournalReadOnlyExplainsWhy() async throws {
        try await TemporaryDirectory.with { path in
            let error = #expect(throws: JournalError.self) {
                _ = try LMDBJournal(directory: path, configuration: .init(readOnly: true))
            }
            #expect(error?.code == .storage)
        }
    }

    @Test func aFullJournalFailsEveryWaiterOfTheBatchThenWorksOnceGrown() async throws {
        try await TemporaryDirectory.with { path in
            let payload = [UInt8](repeating: 1, count: 2000)
            var acknowledged: Set<UInt64> = []
            var sawFull = false
            try await LMDBJournal.withJournal(at: path, configuration: .init(mapSize: 256 * 1024)) { journal in
                // Concurrent appenders until the map is full: every failure must be journalFull.
                for round in 0..<200 where !sawFull {
                    let results = await journal.append((0..<8).map { index in
                        AppendRequest(
                            streamID: StreamID("s\(index)"),
                            expectedVersion: .any,
                            events: [ProposedEvent(type: "Filled", recordedAt: Int64(round), payload: payload)]
                        )
                    })
                    for result in results {
                        switch result {
                        case .success(let appended): acknowledged.insert(appended.firstPosition)
                        case .failure(let error):
                            #expect(error.code == .journalFull)
                            #expect(error.message.contains("larger map size"))
                            sawFull = true
                        }
                    }
                }
                #expect(sawFull)
                // Still readable, with exactly what was acknowledged.
                let stored = try await journal.read(after: 0, limit: 10_000)
                #expect(Set(stored.map(\.position)) == acknowledged)
            }
            try await LMDBJournal.withJournal(at: path, configuration: .init(mapSize: 8 << 20)) { journal in
                let result = try await journal.append([event("after growing")], to: "s0", expectedVersion: .any)
                #expect(result.firstPosition == UInt64(acknowledged.count) + 1)
                let report = try journal.verifyIntegrity()
                #expect(report.isClean, "\(report.problems)")
            }
        }
    }

    // Each record here sits alone in its commit's segment: a 9-byte segment header, then
    // the record. Offsets: the segment's record count, the record's stream version, and
    // the last payload byte.
    @Test(arguments: [("segment header", 2), ("record header", 12), ("payload", -5)])
    func integrityScanNamesAFlippedByte(region: String, offset: Int) async throws {
        try await TemporaryDirectory.with { path in
            try await fill(path, events: 20)
            try rewrite(path) { txn, events in
                var value = try #require(try txn.value(forKey: JournalLayout.eventKey(7), in: events))
                value[offset < 0 ? value.count + offset : offset] ^= 0x01
                try txn.put(value, forKey: JournalLayout.eventKey(7), in: events)
            }
            let report = try LMDBJournal(directory: path).verifyIntegrity(chunkSize: 3)
            #expect(report.problems.first?.position == 7, "\(region): \(report.problems)")
            #expect(report.problems.allSatisfy { ($0.position ?? 7) >= 7 })
            if region == "payload" {
                // A payload byte changes nothing but the checksum: exactly one problem.
                #expect(report.problems.map(\.position) == [7])
            }
        }
    }

    @Test func integrityScanNamesARemovedRecord() async throws {
        try await TemporaryDirectory.with { path in
            try await fill(path, events: 20)
            try rewrite(path) { txn, events in
                try txn.delete(forKey: JournalLayout.eventKey(12), in: events)
            }
            let report = try LMDBJournal(directory: path).verifyIntegrity()
            #expect(!report.isClean)
            #expect(report.problems.contains { $0.position == 13 && $0.message.contains("missing") })
        }
    }

    @Test func integrityScanNamesSwappedRecords() async throws {
        try await TemporaryDirectory.with { path in
            try await fill(path, events: 20)
            try rewrite(path) { txn, events in
                let a = try #require(try txn.value(forKey: JournalLayout.eventKey(4), in: events))
                let b = try #require(try txn.value(forKey: JournalLayout.eventKey(5), in: events))
                try txn.put(b, forKey: JournalLayout.eventKey(4), in: events)
                try txn.put(a, forKey: JournalLayout.eventKey(5), in: events)
            }
            let report = try LMDBJournal(directory: path).verifyIntegrity()
            #expect(report.problems.contains { $0.position == 4 })
            #expect(report.problems.contains { $0.position == 5 })
        }
    }

    /// Appends `events` single-event appends spread over three streams.
    private func fill(_ path: String, events: Int) async throws {
        try await LMDBJournal.withJournal(at: path) { journal in
            for index in 0..<events {
                _ = try await journal.append([event("event \(index)")], to: StreamID("s\(index % 3)"), expectedVersion: .any)
            }
            #expect(try journal.verifyIntegrity().isClean)
        }
    }

    /// Edits the raw events database, as a tamperer (or a damaged disk) would.
    private func rewrite(_ path: String, _ edit: (borrowing WriteTransaction, Database) throws -> Void) throws {
        let environment = try Environment(path: path)
        let events = try environment.openDatabase(named: "events", create: false)
        try environment.withWriteTransaction { txn in try edit(txn, events) }
        environment.close()
    }
}
