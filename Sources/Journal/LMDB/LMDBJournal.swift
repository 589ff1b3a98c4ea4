import Foundation
import LMDB
import Synchronization

/// The embedded journal: an LMDB environment in a data directory.
///
/// Appends go to one dedicated writer thread that commits everything waiting at that
/// moment in one durable transaction (group commit); each waiter resumes only after its
/// commit is on disk. Reads run on the caller's thread in short read transactions, so
/// other processes (offline tools) can read the same directory while a server writes.
public final class LMDBJournal: BorrowingJournal {
    /// Settings for opening a journal.
    public struct Configuration: Sendable, Hashable {
        /// The maximum size of the data file in bytes. Growing it means reopening with a
        /// larger value; the file itself grows only as it is used.
        public var mapSize: Int
        /// Opens for reading only: appends fail with ``JournalError/Code/readOnly``.
        public var readOnly: Bool
        /// The most events one group commit takes, bounding a transaction's size.
        public var maxEventsPerCommit: Int
        /// How many records may wait for their stream-index entries before a commit writes
        /// them all (see ADR 0001); readers scan at most this many records extra.
        public var indexFlushThreshold: Int
        /// How long the writer may wait, after a commit that resumed several appenders,
        /// for them to append again so that they share the next commit. Zero turns it off.
        public var gatheringWindow: Duration

        /// Creates a configuration; the defaults suit a server.
        public init(
            mapSize: Int = 8 << 30,
            readOnly: Bool = false,
            maxEventsPerCommit: Int = 16_384,
            indexFlushThreshold: Int = 8_192,
            gatheringWindow: Duration = .microseconds(200)
        ) {
            self.gatheringWindow = gatheringWindow
            self.mapSize = mapSize
            self.readOnly = readOnly
            self.maxEventsPerCommit = maxEventsPerCommit
            self.indexFlushThreshold = indexFlushThreshold
        }
    }

    /// The journal format this code reads and writes.
    public static let formatVersion: UInt32 = 1

    /// The directory holding the journal.
    public let directory: String
    /// The configuration the journal was opened with.
    public let configuration: Configuration
    /// The journal's identity, fixed when it was created (32 hex digits).
    public let identity: String

    let environment: Environment
    let events: Database
    let streams: Database
    let meta: Database
    let snapshots: Database
    private let notifier: PositionNotifier
    let writer: GroupCommitWriter?
    private let writerLock: WriterLock?

    /// Opens the journal in `directory`, creating the directory and an empty journal when
    /// writable and absent.
    public init(directory: String, configuration: Configuration = Configuration()) throws(JournalError) {
        self.directory = directory
        self.configuration = configuration
        do {
            if !configuration.readOnly {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        } catch {
            throw JournalError(
                code: .storage,
                message: "cannot create the data directory \(directory); check its path and permissions",
                underlying: "\(error)"
            )
        }
        writerLock = configuration.readOnly ? nil : try WriterLock(directory: directory)
        do {
            environment = try Environment(
                path: directory,
                options: .init(mapSize: configuration.mapSize, readOnly: configuration.readOnly)
            )
            let create = !configuration.readOnly
            events = try environment.openDatabase(named: JournalLayout.eventsDatabase, create: create)
            streams = try environment.openDatabase(named: JournalLayout.streamsDatabase, create: create)
            meta = try environment.openDatabase(named: JournalLayout.metaDatabase, create: create)
            snapshots = try environment.openDatabase(named: JournalLayout.snapshotsDatabase, create: create)
        } catch {
            if error.code == .notFound {
                throw JournalError(
                    code: .storage,
                    message: "\(directory) holds no journal; open it writable once to create one",
                    underlying: error.description
                )
            }
            throw Self.journalError(error)
        }
        identity = try Self.checkFormat(environment: environment, meta: meta, directory: directory)
        let tail = try Self.readTail(environment: environment, events: events)
        notifier = PositionNotifier(head: tail.position)
        if configuration.readOnly {
            writer = nil
        } else {
            let (events, meta) = (events, meta)
            let indexTail = try Self.runRead(environment) { txn in
                var indexTail = StreamIndexTail(indexedThrough: try Self.indexedThrough(meta: meta, in: txn))
                var additions = StreamIndexTail.Additions()
                try Self.scanUnindexed(events: events, after: indexTail.indexedThrough, in: txn) { position, version, stream in
                    let streamID = StreamID(String(decoding: stream, as: UTF8.self))
                    additions.entries.append(.init(streamID: streamID, version: version, position: position))
                    additions.heads[streamID] = version
                }
                indexTail.merge(additions)
                return indexTail
            }
            writer = GroupCommitWriter(
                environment: environment,
                events: events,
                streams: streams,
                meta: meta,
                head: tail.position,
                lastChecksum: tail.checksum,
                indexTail: indexTail,
                indexFlushThreshold: configuration.indexFlushThreshold,
                maxEventsPerCommit: configuration.maxEventsPerCommit,
                gatheringWindow: configuration.gatheringWindow,
                notifier: notifier
            )
        }
    }

    /// Opens the journal, runs `body`, and closes the journal however `body` ends.
    public static func withJournal<Result>(
        at directory: String,
        configuration: Configuration = Configuration(),
        _ body: (LMDBJournal) async throws -> Result
    ) async throws -> Result {
        let journal = try LMDBJournal(directory: directory, configuration: configuration)
        do {
            let result = try await body(journal)
            journal.close()
            return result
        } catch {
            journal.close()
            throw error
        }
    }

    deinit { close() }

    /// Finishes every pending append, ends subscriptions and closes the environment.
    public func close() {
        writer?.stop()
        notifier.close()
        environment.close()
        writerLock?.release()
    }

    // MARK: Journal

    public func append(_ requests: [AppendRequest]) async -> [Result<AppendResult, JournalError>] {
        guard let writer else {
            let error = JournalError(code: .readOnly, message: "the journal was opened read-only")
            return requests.map { _ in .failure(error) }
        }
        return await writer.submit(requests)
    }

    public func read(after position: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        try readEvents(after: position, limit: limit)
    }

    public func read(stream: StreamID, after version: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        try readStream(stream, after: version, limit: limit)
    }

    public func version(of stream: StreamID) async throws(JournalError) -> UInt64 {
        try run { txn in
            var version = try Self.indexedVersion(of: stream, streams: streams, in: txn)
            let target = Array(stream.rawValue.utf8)
            try Self.scanUnindexed(events: events, after: try Self.indexedThrough(meta: meta, in: txn), in: txn) {
                _, recordVersion, recordStream in
                if recordStream.elementsEqual(target) { version = recordVersion }
            }
            return version
        }
    }

    public func head() async throws(JournalError) -> UInt64 {
        try currentHead()
    }

    /// Waits for the head to pass `position`. Only the writing process learns of new
    /// commits, so a read-only journal refuses: it serves reads up to its head, and a live
    /// feed comes from the server.
    public func waitForEvents(after position: UInt64) async throws {
        guard writer != nil else {
            throw JournalError(
                code: .readOnly,
                message: "a read-only journal cannot wait for new events; subscribe through the server"
            )
        }
        try await notifier.wait(after: position)
    }

    // MARK: Synchronous reads (for tools and the writer)

    /// Up to `limit` events after `position`, read in one short transaction.
    public func readEvents(after position: UInt64, limit: Int) throws(JournalError) -> [RecordedEvent] {
        try run { txn in
            var result: [RecordedEvent] = []
            guard limit > 0, position < .max else { return result }
            result.reserveCapacity(min(limit, 4096))
            try Self.forEachRecord(events: events, after: position, in: txn) { recordPosition, bytes in
                result.append(try RecordCodec.decode(position: recordPosition, bytes: bytes))
                return result.count < limit
            }
            return result
        }
    }

    public func withRecords<T>(
        after position: UInt64, limit: Int, reusing records: inout [BorrowedRecord], _ body: ([BorrowedRecord]) -> T
    ) throws(JournalError) -> T {
        records.removeAll(keepingCapacity: true)
        defer { records.removeAll(keepingCapacity: true) }  // none outlives the transaction
        return try run { txn in
            if limit > 0, position < .max {
                records.reserveCapacity(min(limit, 16_384))
                try Self.forEachRecord(events: events, after: position, in: txn) { recordPosition, bytes in
                    records.append(try RecordCodec.borrow(position: recordPosition, bytes: bytes))
                    return records.count < limit
                }
            }
            // The bytes lie in the map and stay valid while this read transaction is open.
            return body(records)
        }
    }

    public func withRecordReader<T>(
        after position: UInt64,
        _ body: (_ read: (_ records: inout [BorrowedRecord], _ limit: Int) throws(JournalError) -> Void) -> T
    ) throws(JournalError) -> T {
        try run { txn in
            var last = position
            return body { (records: inout [BorrowedRecord], limit: Int) throws(JournalError) in
                guard limit > 0, last < .max else { return }
                var read = 0
                do {
                    try Self.forEachRecord(events: events, after: last, in: txn) { recordPosition, bytes in
                        records.append(try RecordCodec.borrow(position: recordPosition, bytes: bytes))
                        last = recordPosition
                        read += 1
                        return read < limit
                    }
                } catch {
                    throw Self.journalError(error)
                }
            }
        }
    }

    /// Up to `limit` events of `stream` after `version`, read in one short transaction:
    /// the indexed ones through the `streams` database, then the unindexed tail by scan.
    public func readStream(_ stream: StreamID, after version: UInt64, limit: Int) throws(JournalError) -> [RecordedEvent] {
        try run { txn in
            guard limit > 0, version < .max else { return [] }
            var positions: [UInt64] = []
            let prefix = JournalLayout.streamPrefix(stream)
            try txn.withCursor(in: streams) { cursor in
                var entry = try cursor.seek(atLeast: JournalLayout.streamKey(stream, version: version &+ 1))
                while let (key, value) = entry, positions.count < limit, key.count == prefix.count + 8,
                    key.starts(with: prefix), let position = JournalLayout.uint64(value)
                {
                    positions.append(position)
                    entry = try cursor.next()
                }
            }
            if positions.count < limit {
                let target = Array(stream.rawValue.utf8)
                let checkpoint = try Self.indexedThrough(meta: meta, in: txn)
                try Self.scanUnindexed(events: events, after: checkpoint, in: txn) { position, recordVersion, recordStream in
                    if positions.count < limit, recordVersion > version, recordStream.elementsEqual(target) {
                        positions.append(position)
                    }
                }
            }
            return try positions.map { position in
                guard position > 0 else { throw Self.corruptedSegment(0) }
                var found: RecordedEvent?
                try Self.forEachRecord(events: events, after: position - 1, in: txn) { recordPosition, bytes in
                    if recordPosition == position { found = try RecordCodec.decode(position: position, bytes: bytes) }
                    return false
                }
                guard let found else {
                    throw JournalError(
                        code: .corrupted,
                        message: "the stream index of \(stream) points at missing record \(position); run an audit"
                    )
                }
                return found
            }
        }
    }

    /// The position of the last committed event.
    public func currentHead() throws(JournalError) -> UInt64 {
        try Self.readTail(environment: environment, events: events).position
    }

    /// Figures about the data file, for metrics and operations.
    public func storageInfo() throws(JournalError) -> StorageInfo {
        do {
            let info = try environment.info()
            return StorageInfo(
                mapSize: info.mapSize,
                usedBytes: (info.lastPageNumber + 1) * info.pageSize,
                readersInUse: info.readersInUse,
                maxReaders: info.maxReaders
            )
        } catch {
            throw Self.journalError(error)
        }
    }

    /// Group commits made by this process since it opened the journal, and the events they
    /// carried: their ratio is the mean batch size.
    public func commitStatistics() -> (commits: Int, events: Int) {
        guard let writer else { return (0, 0) }
        return (writer.commits.load(ordering: .relaxed), writer.committedEvents.load(ordering: .relaxed))
    }

    /// Group commits made by this process by their size in events: `counts[i]` commits of at
    /// most `bounds[i]` events and more than `bounds[i - 1]` (the last bound is `Int.max`).
    public func commitBatchSizes() -> (bounds: [Int], counts: [Int]) {
        let buckets = GroupCommitWriter.batchSizeBuckets
        let bounds = (0..<buckets).map { $0 == buckets - 1 ? Int.max : 1 << $0 }
        guard let writer else { return (bounds, [Int](repeating: 0, count: buckets)) }
        return (bounds, writer.batchSizes.withLock { $0 })
    }

    /// How much of the journal's map is used, and by how many readers.
    public struct StorageInfo: Sendable, Hashable {
        /// The map size in bytes: the most the data file may grow to.
        public let mapSize: Int
        /// The bytes of the map in use.
        public let usedBytes: Int
        /// Reader slots in use, across processes.
        public let readersInUse: Int
        /// Reader slots available in all.
        public let maxReaders: Int
    }

    // MARK: Helpers

    /// Runs `body` in a read transaction, mapping every failure to a ``JournalError``.
    func run<Result>(_ body: (borrowing ReadTransaction) throws -> Result) throws(JournalError) -> Result {
        try Self.runRead(environment, body)
    }

    static func runRead<Result>(
        _ environment: Environment,
        _ body: (borrowing ReadTransaction) throws -> Result
    ) throws(JournalError) -> Result {
        do {
            return try environment.withReadTransaction(body)
        } catch {
            throw journalError(error)
        }
    }

    /// The stream index's checkpoint: every record up to it has its `streams` entry.
    static func indexedThrough(meta: Database, in txn: borrowing some ReadableTransaction & ~Copyable) throws -> UInt64 {
        try txn.withValue(forKey: JournalLayout.indexedThroughKey, in: meta) { $0.flatMap(JournalLayout.uint64) } ?? 0
    }

    /// Calls `visit` with (position, stream version, stream id bytes) of every record after
    /// `position`, reading only the records' headers.
    static func scanUnindexed(
        events: Database,
        after position: UInt64,
        in txn: borrowing some ReadableTransaction & ~Copyable,
        _ visit: (UInt64, UInt64, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try forEachRecord(events: events, after: position, in: txn) { recordPosition, bytes in
            guard let (version, stream) = RecordCodec.peekStream(bytes) else {
                throw corruptedSegment(recordPosition)
            }
            try visit(recordPosition, version, stream)
            return true
        }
    }

    /// Calls `visit` with each record after `position`, in order, while it returns true.
    ///
    /// Records live in segments keyed by their first position: start in the segment that
    /// holds `position + 1`, the last one whose key is not beyond it.
    static func forEachRecord(
        events: Database,
        after position: UInt64,
        in txn: borrowing some ReadableTransaction & ~Copyable,
        _ visit: (UInt64, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        guard position < UInt64.max else { return }  // nothing can follow the last position
        let target = position + 1
        try txn.withCursor(in: events) { cursor in
            var entry = try cursor.seek(atLeast: JournalLayout.eventKey(target))
            if entry.flatMap({ JournalLayout.uint64($0.key) }) != target {
                let before = entry == nil ? try cursor.last() : try cursor.previous()
                if before != nil { entry = before }
            }
            while let (key, value) = entry {
                guard let first = JournalLayout.uint64(key), let segment = Segment.View(value) else {
                    throw corruptedSegment(JournalLayout.uint64(key))
                }
                var index = target > first ? Int(clamping: target - first) : 0
                while index < segment.count {
                    guard try visit(first + UInt64(index), segment.record(index)) else { return }
                    index += 1
                }
                entry = try cursor.next()
            }
        }
    }

    static func corruptedSegment(_ position: UInt64?) -> JournalError {
        JournalError(
            code: .corrupted,
            message: "the records at position \(position.map(String.init) ?? "?") are damaged; run an audit and restore from a snapshot"
        )
    }

    /// The stream's version as far as the `streams` database covers it: its last key.
    static func indexedVersion(
        of stream: StreamID,
        streams: Database,
        in txn: borrowing some ReadableTransaction & ~Copyable
    ) throws -> UInt64 {
        let prefix = JournalLayout.streamPrefix(stream)
        return try txn.withCursor(in: streams) { cursor in
            // Seek past the stream's last possible key, then step back one entry.
            let beyond = try cursor.seek(atLeast: JournalLayout.streamKey(stream, version: .max))
            let entry = beyond == nil ? try cursor.last() : try cursor.previous()
            guard let (key, _) = entry, key.count == prefix.count + 8, key.starts(with: prefix) else { return 0 }
            return JournalLayout.uint64(UnsafeRawBufferPointer(rebasing: key[prefix.count...])) ?? 0
        }
    }

    static func journalError(_ error: any Error) -> JournalError {
        if let error = error as? JournalError { return error }
        if let error = error as? LMDBError {
            if error.code == .closed { return .closedJournal }
            if error.code == .mapFull {
                return JournalError(
                    code: .journalFull,
                    message: "the journal is full; reopen it with a larger map size (see docs/operations.md)",
                    underlying: error.description
                )
            }
            return JournalError(code: .storage, message: error.message, underlying: error.description)
        }
        return JournalError(code: .storage, message: "unexpected storage failure", underlying: "\(error)")
    }

    private static func checkFormat(environment: Environment, meta: Database, directory: String) throws(JournalError) -> String {
        let stored: (format: [UInt8]?, identity: [UInt8]?)
        do {
            stored = try environment.withReadTransaction { txn in
                (
                    try txn.value(forKey: JournalLayout.formatKey, in: meta),
                    try txn.value(forKey: JournalLayout.identityKey, in: meta)
                )
            }
        } catch {
            throw journalError(error)
        }
        if let format = stored.format {
            let version = format.count == 4 ? format.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : 0
            guard version == formatVersion else {
                throw JournalError(
                    code: .formatMismatch,
                    message: "\(directory) holds a journal of format \(version); this build reads format \(formatVersion). Use a matching Almanac version or export and import the journal"
                )
            }
            return (stored.identity ?? []).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        }
        guard !environment.options.readOnly else {
            throw JournalError(code: .storage, message: "\(directory) holds no journal; open it writable once to create one")
        }
        var generator = SystemRandomNumberGenerator()
        let identity = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        do {
            try environment.withWriteTransaction { txn in
                var format: [UInt8] = []
                format.appendBigEndian(formatVersion)
                try txn.put(format, forKey: JournalLayout.formatKey, in: meta)
                try txn.put(identity, forKey: JournalLayout.identityKey, in: meta)
            }
        } catch {
            throw journalError(error)
        }
        return identity.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// The last record's position and checksum: the chain's current end.
    static func readTail(environment: Environment, events: Database) throws(JournalError) -> (position: UInt64, checksum: UInt32) {
        try runRead(environment) { txn in
            try txn.withCursor(in: events) { cursor in
                guard let (key, value) = try cursor.last() else { return (0, RecordCodec.genesisChecksum) }
                guard let first = JournalLayout.uint64(key), let segment = Segment.View(value) else {
                    throw corruptedSegment(JournalLayout.uint64(key))
                }
                let last = segment.record(segment.count - 1)
                guard last.count >= 4 else { throw corruptedSegment(first) }
                let checksum = last[(last.count - 4)...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                return (first + UInt64(segment.count) - 1, checksum)
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
