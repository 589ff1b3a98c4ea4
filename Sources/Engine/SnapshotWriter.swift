import Dispatch
import Synchronization
public import Journal
public import Logging
import Projections
import Scheduling
public import ServiceLifecycle

/// Writes snapshots of the projection beside the journal, so a restart reads the newest
/// snapshot and the events after it instead of the whole journal.
///
/// A snapshot is written when the projection has moved `every` events past the last one
/// (checked every `checkInterval`), and once more at a graceful shutdown when anything was
/// applied since. The projection is copied on the store's actor (a copy shares its storage
/// until the store changes it) and encoded on a thread of its own, so neither commands nor
/// the scheduler wait for the encoding; the LMDB journal then writes it in chunks between
/// appends.
public final class SnapshotWriter: Service, Sendable {
    /// When to write.
    public struct Configuration: Sendable {
        /// Events applied since the last snapshot that call for a new one (0: never, not even
        /// at shutdown).
        public var every: UInt64
        /// How often the count is checked.
        public var checkInterval: Duration

        public init(every: UInt64 = 1_000_000, checkInterval: Duration = .seconds(10)) {
            self.every = every
            self.checkInterval = checkInterval
        }
    }

    private let store: ProjectionStore
    private let snapshots: any SnapshotStore
    private let clock: any WallClock
    private let configuration: Configuration
    private let logger: Logger
    /// The position of the newest snapshot written or found.
    private let last: Mutex<UInt64>

    /// A writer for `store`'s projection into `snapshots`; `lastPosition` is the newest
    /// snapshot's position (0: none).
    public init(
        store: ProjectionStore, snapshots: any SnapshotStore, clock: any WallClock, configuration: Configuration,
        lastPosition: UInt64, logger: Logger
    ) {
        self.store = store
        self.snapshots = snapshots
        self.clock = clock
        self.configuration = configuration
        self.last = Mutex(lastPosition)
        self.logger = logger
    }

    /// The position of the newest snapshot written or found.
    public var lastPosition: UInt64 { last.withLock { $0 } }

    public func run() async throws {
        guard configuration.every > 0 else {
            // Off: a service that ends early would stop the whole group.
            try? await gracefulShutdown()
            return
        }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await self.clock.sleep(until: self.clock.now() + self.configuration.checkInterval)
                do {
                    try await self.write(ifBehindBy: self.configuration.every)
                } catch {
                    if Task.isCancelled { return }
                    self.logger.error("cannot write a projection snapshot", metadata: ["error": "\(error)"])
                }
            }
        }
        // Shutting down: what was applied since the last snapshot need not be replayed at
        // the next start.
        do {
            try await write(ifBehindBy: 1)
        } catch {
            logger.error("cannot write a projection snapshot at shutdown", metadata: ["error": "\(error)"])
        }
    }

    /// Writes a snapshot when the projection is at least `events` past the last one; returns
    /// the position written, or nil.
    @discardableResult
    public func write(ifBehindBy events: UInt64) async throws -> UInt64? {
        let projection = await store.read { copy $0 }
        guard projection.position >= lastPosition + max(1, events) else { return nil }
        let started = clock.now()
        let snapshot = await Self.encode(projection)
        let encoded = clock.now()
        try await snapshots.saveSnapshot(snapshot)
        last.withLock { $0 = max($0, snapshot.position) }
        logger.info("projection snapshot written", metadata: [
            "position": "\(snapshot.position)", "bytes": "\(snapshot.bytes.count)",
            "encodeMilliseconds": "\((encoded - started).wholeMicroseconds / 1000)",
            "saveMilliseconds": "\((clock.now() - encoded).wholeMicroseconds / 1000)",
        ])
        return snapshot.position
    }

    /// Encodes on a thread of the global queue: seconds of work for a million tasks would
    /// hold one of the few threads of the task pool.
    private static func encode(_ projection: Projection) async -> StoredSnapshot {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(returning: ProjectionSnapshot.make(projection))
            }
        }
    }
}
