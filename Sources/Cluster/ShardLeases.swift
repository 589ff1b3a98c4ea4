public import Engine
public import Logging
import NIOCore
public import PostgresJournal
import PostgresNIO
import Projections
public import ServiceLifecycle
import Synchronization

/// A cluster node's claim on shards: PostgreSQL session advisory locks, held on a connection
/// of their own, rebalanced so that shards spread evenly over the nodes alive.
///
/// - **Membership.** A node joins by taking a member lock (the smallest free slot). The
///   nodes alive are the member locks granted, read from `pg_locks`; a node that dies, or
///   whose connection drops, loses its locks with its session, at once.
/// - **Fair share.** With n members, ranked by slot, the node of rank r aims at
///   `shards / n` shards, plus one when `r < shards % n`.
/// - **Rebalancing**, every `interval`: shards the scheduler has handed back are unlocked;
///   above its share, a node asks the scheduler to hand shards back (it stops claiming in
///   them at once and unlocks each when its runs there are recorded); below its share, it
///   takes free shards with `pg_try_advisory_lock`.
/// - **Losing the connection** loses every shard: the scheduler stops claiming in them at
///   once, and the node joins again once it reconnects.
///
/// Two nodes may briefly both believe they own a shard (one has not yet noticed it lost its
/// connection): the claim — `RunStarted` appended at the task's expected version — still
/// lets only one of them claim an occurrence.
public final class ShardLeases: Service, Sendable {
    private let configuration: PostgresJournal.Configuration
    private let assignment: ShardAssignment
    private let interval: Duration
    private let clock: any Clock<Duration>
    private let logger: Logger
    /// The advisory lock class of the shards; members use the next one. Derived from the
    /// table's name, so clusters on different tables of one database do not meet.
    private let shardClass: Int32
    private var memberClass: Int32 { shardClass + 1 }

    /// Leases for `assignment`'s shards over the journal's database.
    public init(
        configuration: PostgresJournal.Configuration, assignment: ShardAssignment, interval: Duration = .milliseconds(500),
        clock: any Clock<Duration>, logger: Logger
    ) {
        self.configuration = configuration
        self.assignment = assignment
        self.interval = interval
        self.clock = clock
        self.logger = logger
        shardClass = Self.shardClass(of: configuration.table)
    }

    private static func shardClass(of table: String) -> Int32 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in "almanac-shards:\(table)".utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return Int32(hash & 0x3fff_fffe)
    }

    /// How many nodes are members of the cluster on `configuration`'s table now (their
    /// member locks are granted).
    public static func liveMembers(configuration: PostgresJournal.Configuration, logger: Logger) async throws -> Int {
        let connection = try await PostgresConnection.connect(configuration: configuration.connection, id: 2, logger: logger)
        defer { Task { try? await connection.close() } }
        var count: Int64 = 0
        let rows = try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT count(*)::bigint FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = \(shardClass(of: configuration.table) + 1)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """), logger: logger)
        for try await found in rows.decode(Int64.self) { count = found }
        return Int(count)
    }

    /// Holds and rebalances shards until the service group shuts down (it is shut down after
    /// the dispatcher, so the shards stay locked while this node's runs finish).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var attempt = 0
            while !Task.isCancelled {
                do {
                    try await self.session { attempt = 0 }
                } catch {
                    if Task.isCancelled { break }
                    attempt += 1
                    self.logger.warning("shard leases lost; reconnecting", metadata: ["error": "\(String(reflecting: error))", "attempt": "\(attempt)"])
                }
                self.dropAll()
                try? await self.clock.sleep(for: .milliseconds(min(2_000, 200 * attempt)))
            }
        }
        dropAll()
    }

    /// Everything this node held is gone with its session.
    private func dropAll() {
        let (view, _) = assignment.view
        if !view.held.isEmpty { assignment.lost(view.held) }
    }

    /// One session: connect, join, rebalance until the connection fails or the task ends.
    private func session(connected: () -> Void) async throws {
        let connection = try await PostgresConnection.connect(configuration: configuration.connection, id: 1, logger: logger)
        do {
            let slot = try await join(on: connection)
            connected()
            logger.info("joined the cluster", metadata: ["slot": "\(slot)"])
            var mine = ShardSet()
            while !Task.isCancelled {
                let held = mine
                // A step that does not finish in time counts as a lost connection: shards must
                // not stay claimed here on locks that may be gone.
                mine = try await within(.seconds(5)) { try await self.rebalance(on: connection, slot: slot, holding: held) }
                try await clock.sleep(for: interval)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    /// Takes the smallest free member slot.
    private func join(on connection: PostgresConnection) async throws -> Int32 {
        let taken = try await grantedKeys(memberClass, on: connection)
        for slot in Int32(0)..<Int32(4096) where !taken.contains(Int(slot)) {
            if try await tryLock(memberClass, slot, on: connection) { return slot }
        }
        throw ClusterError("no free member slot among 4096")
    }

    /// One rebalancing step; returns the shards held after it.
    private func rebalance(on connection: PostgresConnection, slot: Int32, holding: ShardSet) async throws -> ShardSet {
        var mine = holding
        for shard in assignment.takeReleased() {
            _ = try await query("SELECT pg_advisory_unlock(\(shardClass), \(shard))", on: connection)
            mine.remove(shard)
            logger.debug("shard handed back", metadata: ["shard": "\(shard)"])
        }
        let members = try await grantedKeys(memberClass, on: connection).sorted()
        guard let rank = members.firstIndex(of: Int(slot)) else { throw ClusterError("this node's member lock is gone") }
        let count = assignment.shardCount
        let target = count / members.count + (rank < count % members.count ? 1 : 0)
        let releasing = assignment.view.view.releasing
        if mine.count > target {
            let more = mine.count - target - releasing.count
            if more > 0 {
                let chosen = ShardSet(mine.subtracting(releasing).sorted(by: >).prefix(more))
                assignment.requestRelease(chosen)
                logger.info("handing shards back", metadata: ["shards": "\(chosen)", "members": "\(members.count)"])
            }
        } else if mine.count < target {
            let taken = try await grantedKeys(shardClass, on: connection)
            // Start each node's search at a different place, so nodes racing for free shards
            // mostly try different ones.
            let offset = rank * count / members.count
            var gained = ShardSet()
            for step in 0..<count where mine.count + gained.count < target {
                let shard = (offset + step) % count
                if mine.contains(shard) || taken.contains(shard) { continue }
                if try await tryLock(shardClass, Int32(shard), on: connection) { gained.insert(shard) }
            }
            if !gained.isEmpty {
                mine = mine.union(gained)
                assignment.acquired(gained)
                logger.info("shards taken", metadata: ["shards": "\(gained)", "holding": "\(mine.count)", "members": "\(members.count)"])
            }
        }
        return mine
    }

    /// `body`'s result, or a failure once `limit` passes — without waiting for `body`, which
    /// may never return (a query written to a connection that just closed is never answered).
    private func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let clock = self.clock
        let worker = Mutex<Task<Void, Never>?>(nil)
        let timer = Mutex<Task<Void, Never>?>(nil)
        defer {
            worker.withLock { $0?.cancel() }
            timer.withLock { $0?.cancel() }
        }
        return try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            worker.withLock {
                $0 = Task {
                    do { once.finish(.success(try await body())) } catch { once.finish(.failure(error)) }
                }
            }
            timer.withLock {
                $0 = Task {
                    if (try? await clock.sleep(for: limit)) != nil { once.finish(.failure(ClusterError("a lease step took longer than \(limit)"))) }
                }
            }
        }
    }

    /// A continuation resumed by whichever comes first.
    private final class Once<T: Sendable>: Sendable {
        private let continuation: Mutex<CheckedContinuation<T, any Error>?>
        init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }
        func finish(_ result: Result<T, any Error>) {
            continuation.withLock { $0.take() }?.resume(with: result)
        }
    }

    /// The second keys of the granted advisory locks of class `first` in this database.
    private func grantedKeys(_ first: Int32, on connection: PostgresConnection) async throws -> Set<Int> {
        try Self.open(connection)
        var keys = Set<Int>()
        let rows = try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT objid::bigint FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = \(first)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """), logger: logger)
        for try await key in rows.decode(Int64.self) { keys.insert(Int(key)) }
        return keys
    }

    private func tryLock(_ first: Int32, _ second: Int32, on connection: PostgresConnection) async throws -> Bool {
        try await query("SELECT pg_try_advisory_lock(\(first), \(second))", on: connection)
    }

    private func query(_ sql: String, on connection: PostgresConnection) async throws -> Bool {
        try Self.open(connection)
        var answer = false
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Bool.self) {
            answer = value
        }
        return answer
    }
}

extension ShardLeases {
    /// Throws when the connection is closed: a query written to a closed connection would
    /// wait for an answer forever.
    fileprivate static func open(_ connection: PostgresConnection) throws {
        if connection.isClosed { throw ClusterError("the lease connection is closed") }
    }
}

/// A cluster fault.
public struct ClusterError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
