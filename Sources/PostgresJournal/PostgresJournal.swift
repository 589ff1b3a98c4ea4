public import Journal
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A journal in a PostgreSQL table, for several nodes sharing one journal (issue 9).
///
/// - Events live in one table: global position (the primary key), stream id and version
///   (unique together: the database itself refuses a second event at a stream version),
///   type, schema version, recorded-at, payload and the same chained checksum as
///   ``LMDBJournal`` writes.
/// - **Positions in commit order.** An append takes a transaction-scoped advisory lock, reads
///   the head and the streams' versions, and inserts its events at the following positions;
///   the lock is held until the transaction commits, so positions are contiguous and become
///   visible to readers in order — a reader never sees position n + 1 before n. Appends are
///   serialised through the lock; one call's requests share one transaction (one commit).
/// - **Tailing.** ``waitForEvents(after:)`` wakes at once for this process's own appends and
///   polls the head otherwise (every `pollInterval`), so an event another node appended is
///   seen within that interval, and none is ever missed (readers go by position).
/// - The table is created at start when missing (`CREATE TABLE IF NOT EXISTS`).
public final class PostgresJournal: Journal {
    /// Connection and layout settings.
    public struct Configuration: Sendable {
        /// Server address.
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// The events table's name (letters, digits and `_`).
        public var table: String
        /// How often a waiting reader checks the head for other nodes' events.
        public var pollInterval: Duration
        /// The clock the waits between those checks run on.
        public var clock: any Clock<Duration>

        public init(
            host: String = "127.0.0.1", port: Int = 5432, username: String, password: String? = nil, database: String,
            table: String = "almanac_events", pollInterval: Duration = .milliseconds(50),
            clock: any Clock<Duration> = ContinuousClock()
        ) {
            self.clock = clock
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.table = table
            self.pollInterval = pollInterval
        }

        /// Settings from a `postgres://user[:password]@host[:port]/database` URL.
        public init(url text: String, table: String = "almanac_events") throws(JournalError) {
            guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""),
                  let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
            else {
                throw JournalError(code: .storage, message: "\(text) is not a postgres://user@host[:port]/database URL")
            }
            let database = String(url.path.drop { $0 == "/" })
            self.init(
                host: host, port: url.port ?? 5432, username: user, password: url.password,
                database: database.isEmpty ? user : database, table: table
            )
        }
    }

    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let table: String
    private let pollInterval: Duration
    private let clock: any Clock<Duration>
    private let logger = Logger(label: "almanac.journal.postgres")
    private let notifier = PositionNotifier(head: 0)
    private let closed = Mutex(false)
    /// The advisory lock every append takes (any fixed number; the same on every node).
    private static let appendLock: Int64 = 0x616c_6d61_6e61_6331

    /// Connects, and creates the events table when it does not exist.
    public init(configuration: Configuration) async throws(JournalError) {
        guard !configuration.table.isEmpty,
              configuration.table.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
        else {
            throw JournalError(code: .storage, message: "table name \(configuration.table) must be lowercase letters, digits and _")
        }
        let client = PostgresClient(configuration: .init(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: .disable
        ))
        self.client = client
        self.table = configuration.table
        self.pollInterval = configuration.pollInterval
        self.clock = configuration.clock
        running = Task { await client.run() }
        let table = configuration.table
        do {
            try await client.query(PostgresQuery(unsafeSQL: """
                CREATE TABLE IF NOT EXISTS \(table) (
                    position BIGINT PRIMARY KEY,
                    stream_id TEXT NOT NULL,
                    stream_version BIGINT NOT NULL,
                    type TEXT NOT NULL,
                    schema_version INTEGER NOT NULL,
                    recorded_at BIGINT NOT NULL,
                    payload BYTEA NOT NULL,
                    checksum BIGINT NOT NULL,
                    UNIQUE (stream_id, stream_version)
                )
                """))
            notifier.advance(to: try await currentHead())
        } catch {
            running.cancel()
            throw Self.storage("cannot prepare the events table", error)
        }
    }

    /// Closes the connections; waiting readers end.
    public func close() {
        closed.withLock { $0 = true }
        notifier.close()
        running.cancel()
    }

    public func append(_ requests: [AppendRequest]) async -> [Result<AppendResult, JournalError>] {
        if closed.withLock({ $0 }) { return requests.map { _ in .failure(JournalError(code: .closed, message: "the journal is closed")) } }
        var results = [Result<AppendResult, JournalError>?](repeating: nil, count: requests.count)
        var valid: [Int] = []
        for (index, request) in requests.enumerated() {
            do {
                try request.validate()
                valid.append(index)
            } catch {
                results[index] = .failure(error)
            }
        }
        if !valid.isEmpty {
            let table = self.table
            do {
                let logger = self.logger
                let decided = try await client.withTransaction(logger: logger) { connection in
                    try await Self.append(valid.map { requests[$0] }, table: table, on: connection, logger: logger)
                }
                for (offset, index) in valid.enumerated() { results[index] = decided[offset] }
                if let head = decided.compactMap({ try? $0.get().lastPosition }).max() { notifier.advance(to: head) }
            } catch {
                let failure = Self.storage("the append transaction failed", error)
                for index in valid { results[index] = .failure(failure) }
            }
        }
        return results.map { $0! }
    }

    /// Decides and inserts `requests` inside the caller's transaction.
    private static func append(
        _ requests: [AppendRequest], table: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Result<AppendResult, JournalError>] {
        try await connection.query("SELECT pg_advisory_xact_lock(\(appendLock))", logger: logger)
        var head: UInt64 = 0
        var checksum = RecordCodec.genesisChecksum
        for try await (position, last) in try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT position, checksum FROM \(table) ORDER BY position DESC LIMIT 1"), logger: logger
        ).decode((Int64, Int64).self) {
            head = UInt64(position)
            checksum = UInt32(truncatingIfNeeded: last)
        }
        var versions: [StreamID: UInt64] = [:]
        var results: [Result<AppendResult, JournalError>] = []
        var scratch: [UInt8] = []
        for request in requests {
            var current = versions[request.streamID]
            if current == nil {
                var found: Int64 = 0
                for try await (version) in try await connection.query(PostgresQuery(
                    unsafeSQL: "SELECT coalesce(max(stream_version), 0) FROM \(table) WHERE stream_id = $1",
                    binds: try binds(request.streamID.rawValue)
                ), logger: logger).decode(Int64.self) { found = version }
                current = UInt64(found)
            }
            guard let version = current, request.expectedVersion.isSatisfied(byCurrentVersion: version) else {
                results.append(.failure(.wrongExpectedVersion(request.streamID, expected: request.expectedVersion, actual: current ?? 0)))
                continue
            }
            let first = head + 1
            var streamVersion = version
            for event in request.events {
                head += 1
                streamVersion += 1
                scratch.removeAll(keepingCapacity: true)
                checksum = RecordCodec.encode(
                    position: head, streamID: request.streamID, streamVersion: streamVersion, event: event,
                    previousChecksum: checksum, appendingTo: &scratch
                )
                var insert = PostgresBindings()
                insert.append(Int64(head))
                insert.append(request.streamID.rawValue)
                insert.append(Int64(streamVersion))
                insert.append(event.type)
                insert.append(Int32(event.schemaVersion))
                insert.append(event.recordedAt)
                insert.append(ByteBuffer(bytes: event.payload))
                insert.append(Int64(checksum))
                try await connection.query(PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(table) (position, stream_id, stream_version, type, schema_version, recorded_at, payload, checksum)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                        """,
                    binds: insert
                ), logger: logger)
            }
            versions[request.streamID] = streamVersion
            results.append(.success(AppendResult(firstPosition: first, lastPosition: head, streamVersion: streamVersion)))
        }
        return results
    }

    public func read(after position: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        try await select("WHERE position > $1 ORDER BY position LIMIT $2") { try Self.binds(Int64(clamping: position), Int64(clamping: max(0, limit))) }
    }

    public func read(stream: StreamID, after version: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        try await select("WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version LIMIT $3") {
            try Self.binds(stream.rawValue, Int64(clamping: version), Int64(clamping: max(0, limit)))
        }
    }

    public func version(of stream: StreamID) async throws(JournalError) -> UInt64 {
        do {
            var found: Int64 = 0
            for try await version in try await client.query(PostgresQuery(
                unsafeSQL: "SELECT coalesce(max(stream_version), 0) FROM \(table) WHERE stream_id = $1", binds: try Self.binds(stream.rawValue)
            )).decode(Int64.self) { found = version }
            return UInt64(found)
        } catch {
            throw Self.storage("cannot read the version of \(stream)", error)
        }
    }

    public func head() async throws(JournalError) -> UInt64 {
        do { return try await currentHead() } catch { throw Self.storage("cannot read the head", error) }
    }

    public func waitForEvents(after position: UInt64) async throws {
        while true {
            if closed.withLock({ $0 }) { throw JournalError(code: .closed, message: "the journal is closed") }
            try Task.checkCancellation()
            let current: UInt64
            do {
                current = try await head()
            } catch {
                // A query cut short by cancellation is the waiter's cancellation, not a storage fault.
                if Task.isCancelled { throw CancellationError() }
                throw error
            }
            if current > position {
                notifier.advance(to: current)
                return
            }
            // This process's appends wake the wait at once; other nodes' are seen by polling.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.notifier.wait(after: position) }
                group.addTask { try await self.clock.sleep(for: self.pollInterval) }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }

    private func currentHead() async throws -> UInt64 {
        var found: Int64 = 0
        for try await head in try await client.query(PostgresQuery(unsafeSQL: "SELECT coalesce(max(position), 0) FROM \(table)"))
            .decode(Int64.self) { found = head }
        return UInt64(found)
    }

    private func select(_ clause: String, binds: () throws -> PostgresBindings) async throws(JournalError) -> [RecordedEvent] {
        do {
            var events: [RecordedEvent] = []
            let rows = try await client.query(PostgresQuery(
                unsafeSQL: "SELECT position, stream_id, stream_version, type, schema_version, recorded_at, payload, checksum FROM \(table) " + clause,
                binds: try binds()
            ))
            for try await (position, stream, version, type, schema, recordedAt, payload, checksum)
                in rows.decode((Int64, String, Int64, String, Int32, Int64, ByteBuffer, Int64).self) {
                events.append(RecordedEvent(
                    position: UInt64(position), streamID: StreamID(stream), streamVersion: UInt64(version), type: type,
                    schemaVersion: UInt16(truncatingIfNeeded: schema), recordedAt: recordedAt,
                    payload: Array(payload.readableBytesView), checksum: UInt32(truncatingIfNeeded: checksum)
                ))
            }
            return events
        } catch {
            throw Self.storage("cannot read events", error)
        }
    }

    private static func binds(_ values: any PostgresEncodable...) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { try bindings.append(value) }
        return bindings
    }

    private static func storage(_ message: String, _ error: any Error) -> JournalError {
        if let error = error as? JournalError { return error }
        return JournalError(code: .storage, message: message, underlying: String(reflecting: error))
    }
}
