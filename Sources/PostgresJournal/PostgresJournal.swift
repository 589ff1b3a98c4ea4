public import Journal
import Foundation
import Logging
public import PostgresNIO
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
/// - **Group commit.** Appends that arrive while a transaction is being written wait, and go
///   together in the next one: one commit for all of them.
/// - **Tailing.** Every append transaction sends `NOTIFY <table>, '<head>'`, delivered at
///   commit. A dedicated connection listens, so ``waitForEvents(after:)`` wakes at once for
///   any node's appends; should a notification be lost (the listening connection dropped),
///   the waiter reads the head itself every `pollInterval`. Readers go by position, so no
///   event is ever missed, only seen later.
/// - **Migrations** run at start, one node at a time (under an advisory lock), recorded in
///   `<table>_migrations`.
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
        /// How often a waiting reader checks the head itself, in case a notification was lost.
        public var pollInterval: Duration
        /// The name the connections give the server (`application_name`, seen in
        /// `pg_stat_activity`).
        public var applicationName = "almanac"
        /// The clock the waits between those checks run on.
        public var clock: any Clock<Duration>
        /// How long an operation may wait for the database (for a connection, or an answer)
        /// before it fails as ``JournalError/Code/unavailable``.
        public var operationTimeout: Duration = .seconds(10)
        /// Whether a missing table is created (a server), or is an error (the offline tools,
        /// which must not create what a misspelt name points to).
        public var createIfMissing = true

        public init(
            host: String = "127.0.0.1", port: Int = 5432, username: String, password: String? = nil, database: String,
            table: String = "almanac_events", pollInterval: Duration = .seconds(1),
            clock: any Clock<Duration>
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

        /// Settings for one connection of its own (listening, locks).
        public var connection: PostgresConnection.Configuration {
            var connection = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: .disable
            )
            connection.options.additionalStartupParameters = [("application_name", applicationName)]
            return connection
        }

        /// Settings from a `postgres://user[:password]@host[:port]/database` URL.
        public init(url text: String, table: String = "almanac_events", clock: any Clock<Duration>) throws(JournalError) {
            guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""),
                  let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
            else {
                throw JournalError(code: .storage, message: "\(text) is not a postgres://user@host[:port]/database URL")
            }
            if url.query != nil || url.fragment != nil {
                throw JournalError(
                    code: .storage,
                    message: "\(text): URL parameters (such as sslmode) are not supported; connections are made without TLS (docs/cluster.md)"
                )
            }
            let database = String(url.path.drop { $0 == "/" })
            self.init(
                host: host, port: url.port ?? 5432, username: user, password: url.password,
                database: database.isEmpty ? user : database, table: table, clock: clock
            )
        }
    }

    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let listening = Mutex<Task<Void, Never>?>(nil)
    private let writes = Mutex(WriteQueue())
    private struct WriteQueue {
        var waiting: [Write] = []
        var writing = false
    }
    private let table: String
    private let pollInterval: Duration
    private let clock: any Clock<Duration>
    private let operationTimeout: Duration
    private let logger = Logger(label: "almanac.journal.postgres")
    private let notifier = PositionNotifier(head: 0)
    private let closed = Mutex(false)
    /// The advisory lock every append takes (any fixed number; the same on every node).
    /// The advisory lock every append to `table` takes: derived from the table's name, so
    /// journals in other tables of the database do not wait for each other.
    static func appendLock(for table: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "almanac-append:\(table)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: hash)
    }

    /// A table name as a quoted SQL identifier (names are checked to be `[a-z][a-z0-9_]*`).
    static func quoted(_ name: String) -> String { "\"" + name + "\"" }

    /// Why `table` cannot name an events table, or nil when it can.
    public static func problem(withTable table: String) -> String? {
        let bytes = Array(table.utf8)
        guard (1...48).contains(bytes.count), (0x61...0x7A).contains(bytes[0]),
              bytes.allSatisfy({ $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
        else {
            return "the table name \(table) must be 1 to 48 lowercase letters, digits and _, starting with a letter"
        }
        if table.hasPrefix("pg_") { return "the table name \(table) must not start with pg_ (PostgreSQL's own names)" }
        return nil
    }

    /// Connects, and creates the events table when it does not exist.
    public init(configuration: Configuration) async throws(JournalError) {
        if let problem = Self.problem(withTable: configuration.table) { throw JournalError(code: .storage, message: problem) }
        // One connection first, on its own: the pool retries quietly, so a wrong database,
        // role or address would otherwise only show as a timeout.
        do {
            let probeLogger = Logger(label: "almanac.journal.postgres")
            let probe = try await Self.bounded(clock: configuration.clock, limit: configuration.operationTimeout) {
                try await PostgresConnection.connect(configuration: configuration.connection, id: 0, logger: probeLogger)
            }
            try? await probe.close()
        } catch {
            throw JournalError(
                code: .unavailable,
                message: "cannot connect to postgres://\(configuration.host):\(configuration.port)/\(configuration.database) as \(configuration.username): \(Self.reason(error))"
            )
        }
        var options = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: .disable
        )
        options.options.additionalStartupParameters = [("application_name", configuration.applicationName)]
        let client = PostgresClient(configuration: options)
        self.client = client
        self.table = configuration.table
        self.pollInterval = configuration.pollInterval
        self.clock = configuration.clock
        self.operationTimeout = configuration.operationTimeout
        running = Task { await client.run() }
        do {
            let (table, logger, create) = (configuration.table, self.logger, configuration.createIfMissing)
            try await Self.bounded(clock: configuration.clock, limit: configuration.operationTimeout) {
                if !create {
                    var exists = false
                    for try await found in try await client.query(PostgresQuery(
                        unsafeSQL: "SELECT to_regclass($1) IS NOT NULL", binds: try Self.binds(Self.quoted(table))
                    )).decode(Bool.self) { exists = found }
                    guard exists else {
                        throw JournalError(code: .storage, message: "the database has no table \(table): give the journal's --journal-table")
                    }
                }
                try await Self.migrate(table: table, client: client, logger: logger)
            }
            notifier.advance(to: try await currentHead())
        } catch {
            running.cancel()
            throw Self.storage("cannot prepare the events table", error)
        }
        let connection = configuration.connection
        listening.withLock { $0 = Task { await self.listen(connection) } }
    }

    /// The schema's versions, applied in order; each runs once per table, in a transaction.
    private static func migrations(_ table: String) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(Self.quoted(table)) (
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
            """,
        ]
    }

    /// Brings the table's schema to the latest version: one node at a time (under the append
    /// lock), skipping the versions already applied.
    private static func migrate(table: String, client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(\(appendLock(for: table)))"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: """
                CREATE TABLE IF NOT EXISTS \(Self.quoted(table + "_migrations")) (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """), logger: logger)
            var applied: Int32 = 0
            for try await version in try await connection.query(PostgresQuery(
                unsafeSQL: "SELECT coalesce(max(version), 0) FROM \(Self.quoted(table + "_migrations"))"
            ), logger: logger).decode(Int32.self) { applied = version }
            for (index, statement) in migrations(table).enumerated() where index + 1 > Int(applied) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                try await connection.query(PostgresQuery(
                    unsafeSQL: "INSERT INTO \(Self.quoted(table + "_migrations")) (version) VALUES ($1)", binds: try binds(Int32(index + 1))
                ), logger: logger)
                logger.info("journal schema migrated", metadata: ["table": "\(table)", "version": "\(index + 1)"])
            }
        }
    }

    /// Listens for other nodes' appends on a connection of its own, reconnecting when it drops.
    private func listen(_ configuration: PostgresConnection.Configuration) async {
        var attempt = 0
        while !Task.isCancelled, !closed.withLock({ $0 }) {
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                do {
                    try await connection.listen(on: table) { notifications in
                        attempt = 0
                        // Listening now: whatever committed before is read from the head.
                        notifier.advance(to: try await currentHead())
                        for try await notification in notifications {
                            if let head = UInt64(notification.payload) { notifier.advance(to: head) }
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled || closed.withLock({ $0 }) { return }
                logger.warning("journal notifications interrupted; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
            }
            attempt += 1
            try? await clock.sleep(for: .milliseconds(min(2_000, 100 * attempt)))
        }
    }

    /// Drops the events table and its migrations record: for undoing a failed import into a
    /// new table. Nothing can be appended afterwards.
    public func dropTable() async throws(JournalError) {
        let (client, table) = (self.client, self.table)
        do {
            try await bounded {
                try await client.withTransaction(logger: self.logger) { connection in
                    try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(Self.quoted(table))"), logger: self.logger)
                    try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(Self.quoted(table + "_migrations"))"), logger: self.logger)
                }
            }
        } catch {
            throw Self.storage("cannot drop the table", error)
        }
    }

    /// Closes the connections; waiting readers end.
    public func close() {
        closed.withLock { $0 = true }
        notifier.close()
        listening.withLock { $0?.cancel() }
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
            let decided = await withCheckedContinuation { continuation in
                let lead = writes.withLock { queue in
                    queue.waiting.append(Write(requests: valid.map { requests[$0] }, continuation: continuation))
                    if queue.writing { return false }
                    queue.writing = true
                    return true
                }
                if lead { Task { await self.writeQueued() } }
            }
            for (offset, index) in valid.enumerated() { results[index] = decided[offset] }
        }
        return results.map { $0! }
    }

    /// Appends waiting for the transaction in progress.
    private struct Write: Sendable {
        let requests: [AppendRequest]
        let continuation: CheckedContinuation<[Result<AppendResult, JournalError>], Never>
    }

    /// **Group commit**: while one transaction is being written, the appends that arrive wait;
    /// then all of them go in the next transaction, with one commit.
    private func writeQueued() async {
        while true {
            let batch = writes.withLock { queue in
                defer { queue.waiting = [] }
                if queue.waiting.isEmpty { queue.writing = false }
                return queue.waiting
            }
            if batch.isEmpty { return }
            let all = batch.flatMap(\.requests)
            var decided: [Result<AppendResult, JournalError>]
            do {
                let (table, logger, client) = (self.table, self.logger, self.client)
                decided = try await bounded {
                    try await client.withTransaction(logger: logger) { connection in
                        try await Self.append(all, table: table, on: connection, logger: logger)
                    }
                }
                if let head = decided.compactMap({ try? $0.get().lastPosition }).max() { notifier.advance(to: head) }
            } catch {
                let failure = Self.storage("the append transaction failed", error)
                decided = all.map { _ in .failure(failure) }
            }
            var offset = 0
            for write in batch {
                write.continuation.resume(returning: Array(decided[offset..<(offset + write.requests.count)]))
                offset += write.requests.count
            }
        }
    }

    /// Decides and inserts `requests` inside the caller's transaction: the lock, the head, the
    /// streams' versions and the rows each in one statement, and a notification that goes out
    /// at commit.
    private static func append(
        _ requests: [AppendRequest], table: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Result<AppendResult, JournalError>] {
        try await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(\(appendLock(for: table)))"), logger: logger)
        var head: UInt64 = 0
        var checksum = RecordCodec.genesisChecksum
        for try await (position, last) in try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT position, checksum FROM \(Self.quoted(table)) ORDER BY position DESC LIMIT 1"), logger: logger
        ).decode((Int64, Int64).self) {
            head = UInt64(position)
            checksum = UInt32(truncatingIfNeeded: last)
        }
        var versions: [StreamID: UInt64] = [:]
        let streams = Array(Set(requests.map(\.streamID.rawValue)))
        for try await (stream, version) in try await connection.query(PostgresQuery(
            unsafeSQL: "SELECT stream_id, max(stream_version) FROM \(Self.quoted(table)) WHERE stream_id = ANY($1) GROUP BY stream_id",
            binds: try binds(streams)
        ), logger: logger).decode((String, Int64).self) {
            versions[StreamID(stream)] = UInt64(version)
        }
        var rows = Rows()
        var results: [Result<AppendResult, JournalError>] = []
        var scratch: [UInt8] = []
        for request in requests {
            let version = versions[request.streamID] ?? 0
            guard request.expectedVersion.isSatisfied(byCurrentVersion: version) else {
                results.append(.failure(.wrongExpectedVersion(request.streamID, expected: request.expectedVersion, actual: version)))
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
                rows.positions.append(Int64(head))
                rows.streams.append(request.streamID.rawValue)
                rows.versions.append(Int64(streamVersion))
                rows.types.append(event.type)
                rows.schemas.append(Int32(event.schemaVersion))
                rows.recordedAt.append(event.recordedAt)
                rows.payloads.append(ByteBuffer(bytes: event.payload))
                rows.checksums.append(Int64(checksum))
            }
            versions[request.streamID] = streamVersion
            results.append(.success(AppendResult(firstPosition: first, lastPosition: head, streamVersion: streamVersion)))
        }
        if !rows.positions.isEmpty {
            try await connection.query(PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(Self.quoted(table)) (position, stream_id, stream_version, type, schema_version, recorded_at, payload, checksum)
                    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::integer[], $6::bigint[], $7::bytea[], $8::bigint[])
                    """,
                binds: try binds(
                    rows.positions, rows.streams, rows.versions, rows.types, rows.schemas, rows.recordedAt, rows.payloads, rows.checksums
                )
            ), logger: logger)
            // Delivered when the transaction commits, to every node listening.
            try await connection.query(PostgresQuery(
                unsafeSQL: "SELECT pg_notify($1, $2)", binds: try binds(table, String(head))
            ), logger: logger)
        }
        return results
    }

    /// The columns of the rows one transaction inserts.
    private struct Rows {
        var positions: [Int64] = []
        var streams: [String] = []
        var versions: [Int64] = []
        var types: [String] = []
        var schemas: [Int32] = []
        var recordedAt: [Int64] = []
        var payloads: [ByteBuffer] = []
        var checksums: [Int64] = []
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
            let query = PostgresQuery(
                unsafeSQL: "SELECT coalesce(max(stream_version), 0) FROM \(Self.quoted(table)) WHERE stream_id = $1", binds: try Self.binds(stream.rawValue)
            )
            let client = self.client
            return try await bounded {
                var found: Int64 = 0
                for try await version in try await client.query(query).decode(Int64.self) { found = version }
                return UInt64(found)
            }
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
            if notifier.position > position { return }
            // Woken by this process's appends and by other nodes' notifications; after the
            // poll interval, the head is read in case a notification was lost.
            let woken = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await self.notifier.wait(after: position)
                    return true
                }
                group.addTask {
                    try await self.clock.sleep(for: self.pollInterval)
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
            if woken { return }
            let current: UInt64
            do {
                current = try await head()
            } catch {
                // A query cut short by cancellation is the waiter's cancellation, not a storage fault.
                if Task.isCancelled { throw CancellationError() }
                throw error
            }
            notifier.advance(to: current)
        }
    }

    private func currentHead() async throws -> UInt64 {
        let (client, table) = (self.client, self.table)
        return try await bounded {
            var found: Int64 = 0
            for try await head in try await client.query(PostgresQuery(unsafeSQL: "SELECT coalesce(max(position), 0) FROM \(Self.quoted(table))"))
                .decode(Int64.self) { found = head }
            return UInt64(found)
        }
    }

    private func select(_ clause: String, binds: () throws -> PostgresBindings) async throws(JournalError) -> [RecordedEvent] {
        do {
            let query = PostgresQuery(
                unsafeSQL: "SELECT position, stream_id, stream_version, type, schema_version, recorded_at, payload, checksum FROM \(Self.quoted(table)) " + clause,
                binds: try binds()
            )
            let client = self.client
            return try await bounded {
                var events: [RecordedEvent] = []
                for try await (position, stream, version, type, schema, recordedAt, payload, checksum)
                    in try await client.query(query).decode((Int64, String, Int64, String, Int32, Int64, ByteBuffer, Int64).self) {
                    events.append(RecordedEvent(
                        position: UInt64(position), streamID: StreamID(stream), streamVersion: UInt64(version), type: type,
                        schemaVersion: UInt16(truncatingIfNeeded: schema), recordedAt: recordedAt,
                        payload: Array(payload.readableBytesView), checksum: UInt32(truncatingIfNeeded: checksum)
                    ))
                }
                return events
            }
        } catch {
            throw Self.storage("cannot read events", error)
        }
    }

    private static func binds(_ values: any PostgresEncodable...) throws -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { try bindings.append(value) }
        return bindings
    }

    /// What the server or the network said, in a sentence.
    static func reason(_ error: any Error) -> String {
        if let error = error as? JournalError { return error.message }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return String(describing: underlying) }
            return "\(error.code)"
        }
        return String(describing: error)
    }

    private static func storage(_ message: String, _ error: any Error) -> JournalError {
        if let error = error as? JournalError { return error }
        if let error = error as? PSQLError, Self.isConnectionFault(error) {
            return JournalError(code: .unavailable, message: "\(message): the database cannot be reached", underlying: String(reflecting: error))
        }
        return JournalError(code: .storage, message: message, underlying: String(reflecting: error))
    }

    /// Whether `error` says the database is out of reach (rather than that it refused).
    private static func isConnectionFault(_ error: PSQLError) -> Bool {
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return true
        case .server:
            // Class 08: connection exception; class 57: operator intervention (shutdown, restart).
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57")
        default:
            return false
        }
    }

    /// `body`, failing as ``JournalError/Code/unavailable`` when the database does not answer
    /// within the operation timeout (the pool waits for a connection as long as the server is
    /// down). The body is cancelled; an append cut short may or may not have committed.
    private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Self.bounded(clock: clock, limit: operationTimeout, body)
    }

    private static func bounded<T: Sendable>(
        clock: any Clock<Duration>, limit: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        // Not a task group: a group waits for its children, and a query written to a pooled
        // connection the server has just closed is never answered — the timeout must not
        // wait for it. The worker is cancelled and left to end on its own.
        let answer = Answer<T>()
        return try await withCheckedThrowingContinuation { continuation in
            answer.start(continuation)
            let worker = Task {
                do { answer.finish(.success(try await body())) } catch { answer.finish(.failure(error)) }
            }
            Task {
                try? await clock.sleep(for: limit)
                if answer.finish(.failure(JournalError(code: .unavailable, message: "the database did not answer within \(limit)"))) {
                    worker.cancel()
                }
            }
        }
    }

    /// A continuation resumed once, by whichever result comes first.
    private final class Answer<T: Sendable>: Sendable {
        private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

        func start(_ continuation: CheckedContinuation<T, any Error>) { self.continuation.withLock { $0 = continuation } }

        /// Resumes the caller with `result` unless it was resumed already; says whether it did.
        @discardableResult
        func finish(_ result: Result<T, any Error>) -> Bool {
            guard let continuation = continuation.withLock({ $0.take() }) else { return false }
            continuation.resume(with: result)
            return true
        }
    }
}
