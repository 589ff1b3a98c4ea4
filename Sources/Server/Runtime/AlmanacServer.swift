import Access
import Cluster
public import Engine
import Foundation
import Hummingbird
import Journal
public import Logging
import NIOCore
import NIOPosix
import PostgresJournal
import Projections
import Scheduling
import ServiceLifecycle
public import UnixSignals

/// Everything `almanac serve` runs, in one service group: the HTTP server, the scheduler,
/// the run dispatcher and the metrics observer, over one journal — LMDB in the data
/// directory, or a PostgreSQL journal shared by the nodes of a cluster (then also the shard
/// leases and a follower applying the other nodes' events).
public struct AlmanacServer: Sendable {
    /// How the server is set up.
    public struct Configuration: Sendable {
        /// The directory of the LMDB journal (created when missing), and of the secret files
        /// when no other place is given.
        public var dataDirectory: String
        /// A `postgres://…` URL: the node joins the cluster sharing that journal (docs/cluster.md).
        /// Nil: the LMDB journal in the data directory.
        public var journalURL: String?
        /// The PostgreSQL journal's table.
        public var journalTable = "almanac_events"
        /// How long a PostgreSQL journal operation waits for the database before failing.
        public var journalTimeout: Duration = .seconds(10)
        /// This node's name in PostgreSQL's `pg_stat_activity` (`almanac:<name>`).
        public var nodeName: String?
        /// The address to listen on.
        public var host: String
        /// The port (0: any free port).
        public var port: Int
        /// The LMDB map size: the journal's capacity in bytes.
        public var mapSize: Int
        /// HTTP API settings.
        public var api: APIConfiguration
        /// The most webhook calls in flight at once.
        public var maxConcurrentRuns: Int
        /// Scheduler settings (misfire grace and batch sizes).
        public var scheduler: Scheduler.Configuration
        /// How many recent runs of each task the run log keeps in memory (and the API serves).
        public var runRetention: Int
        /// The file of the webhook signing secret; nil: `webhook-signing.secret` in the data
        /// directory. Created (mode 0600) when missing.
        public var webhookSecretFile: String?
        /// The file of the key that seals secret header values and signing secrets; nil:
        /// `secrets.key` in the data directory. Created (mode 0600) when missing — unless the
        /// journal holds sealed secrets, which a new key could not open.
        public var secretsKeyFile: String?
        /// Whether a missing secrets key file may be created although the journal holds
        /// secrets sealed with a key that is gone (they must then be entered again).
        public var newSecretsKey = false
        /// How many stream-index entries the journal keeps in memory before writing them (ADR 0001).
        public var indexFlushThreshold: Int = 8_192
        /// How long a connection may sit idle, or stall in the middle of sending a request,
        /// before the server closes it.
        public var idleTimeout: Duration
        /// The HTTP server's event-loop threads (``defaultEventLoops``: half the cores, at
        /// least one).
        public var eventLoops = AlmanacServer.defaultEventLoops
        /// How long a graceful shutdown waits for running webhook calls (then records them as
        /// interrupted). The whole shutdown is bounded by this plus a few seconds, whatever
        /// clients do.
        public var shutdownTimeout: Duration
        /// When projection snapshots are written (LMDB journal only; a cluster node replays
        /// the shared journal).
        public var snapshots = SnapshotWriter.Configuration()

        public init(
            dataDirectory: String = "./data", host: String = "127.0.0.1", port: Int = 8080, mapSize: Int = 1 << 34,
            api: APIConfiguration = APIConfiguration(), maxConcurrentRuns: Int = 256,
            scheduler: Scheduler.Configuration = Scheduler.Configuration(), runRetention: Int = 20,
            idleTimeout: Duration = .seconds(60), shutdownTimeout: Duration = .seconds(30)
        ) {
            self.idleTimeout = idleTimeout
            self.shutdownTimeout = shutdownTimeout
            self.dataDirectory = dataDirectory
            self.host = host
            self.port = port
            self.mapSize = mapSize
            self.api = api
            self.maxConcurrentRuns = maxConcurrentRuns
            self.scheduler = scheduler
            self.runRetention = runRetention
        }
    }

    /// Half the cores, at least one. On two cores one event loop measured 8 % more
    /// `POST /v1/tasks` and 13 % fewer `GET /v1/tasks/{id}` than two (benchmarks.md): the
    /// loops share the cores with Swift concurrency's threads and the journal's writer, and
    /// a create's work is mostly off the loops.
    public static var defaultEventLoops: Int { max(1, System.coreCount / 2) }

    public let configuration: Configuration
    let clock: any WallClock
    /// The clock the cluster's waits run on (journal polls and timeouts, shard leases).
    let timer: any Clock<Duration>
    let logger: Logger

    public init(configuration: Configuration, clock: any WallClock, timer: any Clock<Duration>, logger: Logger) {
        self.configuration = configuration
        self.clock = clock
        self.timer = timer
        self.logger = logger
    }

    /// Opens the journal, rebuilds the projections, and serves until SIGTERM or SIGINT (or
    /// the task is cancelled). `onListening` receives the bound port once the server listens.
    public func run(
        gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint],
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let journal: any Journal
        let closeJournal: @Sendable () -> Void
        let assignment: ShardAssignment
        var snapshots: (any Journal & SnapshotStore)?
        var clusterServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let url = configuration.journalURL {
            var settings = try PostgresJournal.Configuration(url: url, table: configuration.journalTable, clock: timer)
            settings.applicationName = configuration.nodeName.map { "almanac:\($0)" } ?? "almanac"
            settings.operationTimeout = configuration.journalTimeout
            let postgres = try await PostgresJournal(configuration: settings)
            (journal, closeJournal) = (postgres, { postgres.close() })
            assignment = ShardAssignment(shardCount: Shards.clusterCount)
            // First in the group, so shut down last: the shards stay locked while this node's
            // runs finish.
            clusterServices.append(.init(service: ShardLeases(configuration: settings, assignment: assignment, clock: timer, logger: logger)))
            logger.info("cluster node", metadata: [
                "journal": "postgres://\(settings.host):\(settings.port)/\(settings.database)", "table": "\(settings.table)",
                "shards": "\(assignment.shardCount)",
            ])
        } else {
            let lmdb = try LMDBJournal(
                directory: configuration.dataDirectory,
                configuration: .init(mapSize: configuration.mapSize, indexFlushThreshold: configuration.indexFlushThreshold)
            )
            (journal, closeJournal) = (lmdb, { lmdb.close() })
            snapshots = lmdb
            assignment = .sole()
        }
        defer { closeJournal() }
        let started = clock.now()
        // From the newest snapshot and the events after it, where there is one (a snapshot of
        // another layout, or damaged, is passed over: the whole journal is replayed).
        var projection = Projection(runRetention: configuration.runRetention)
        var snapshotPosition: UInt64?
        if let snapshots {
            (projection, snapshotPosition) = try await Replay.fromSnapshot(of: snapshots, runRetention: configuration.runRetention)
        } else {
            // A cluster node replays the shared journal: its due index is built once, after.
            projection.deferDueIndex()
        }
        // Consumed: a copy left here would share the store's storage, and the store's first
        // change to each part would then copy the whole part.
        let store = ProjectionStore(journal: journal, projection: consume projection, timer: timer)
        try await store.catchUp()
        await store.rebuildDueIndex()
        try await store.loadAccess()
        let position = await store.position
        logger.info("projections rebuilt", metadata: [
            "position": "\(position)", "snapshot": "\(snapshotPosition.map(String.init) ?? "none")",
            "milliseconds": "\((clock.now() - started).wholeMicroseconds / 1000)",
        ])
        // The digest takes seconds for a million tasks: logged when it is ready, while the
        // server starts (`/readyz` shows it too).
        let digestLogger = logger
        Task {
            let (position, digest) = await store.digest()
            digestLogger.info("projection digest", metadata: ["position": "\(position)", "digest": "\(digest)"])
        }
        let access = await store.access
        if access.hasTokens || configuration.api.requireAuth {
            logger.info("tokens required", metadata: ["activeTokens": "\(access.tokens.values.filter(\.isActive).count)"])
        } else {
            let how = configuration.journalURL == nil
                ? "`almanac tokens create`"
                : "`almanac tokens create --server http://<a node>` (a cluster's tokens live in its shared journal, not in a data directory)"
            logger.warning("no API token issued: the API is open to anyone who can reach \(configuration.host); issue one with \(how)")
        }

        let metrics = ServerMetrics()
        let status = ServerStatus()
        let commands = CommandService(journal: journal, store: store, clock: clock)
        let secretPath = configuration.webhookSecretFile ?? configuration.dataDirectory + "/webhook-signing.secret"
        let (secret, created) = try SecretFile.signingSecret(secretPath)
        if created { logger.notice("webhook signing secret created; give it to receivers to verify calls", metadata: ["file": "\(secretPath)"]) }
        let secrets = try await openSecretsKey(store: store)
        var apiConfiguration = configuration.api
        apiConfiguration.secrets = secrets
        let executor = HTTPExecutor(clock: clock, configuration: .init(
            signer: try WebhookSigner(secret: secret), addressPolicy: configuration.api.addressPolicy, secrets: secrets
        ))
        let dispatcher = RunDispatcher(
            executor: executor, commands: commands, clock: clock, maxConcurrent: configuration.maxConcurrentRuns,
            shutdownDeadline: configuration.shutdownTimeout, logger: logger
        )
        status.dispatcher = dispatcher
        status.assignment = assignment
        let scheduler = Scheduler(
            journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock,
            configuration: configuration.scheduler, assignment: assignment, logger: logger
        )
        if configuration.journalURL != nil {
            clusterServices.append(.init(service: ProjectionFollower(journal: journal, store: store, clock: clock, logger: logger)))
        }
        let api = API(
            journal: journal, store: store, commands: commands, clock: clock, metrics: metrics, status: status,
            configuration: apiConfiguration
        )
        let logger = self.logger
        let host = configuration.host
        // Event loops of the server's own: a group with as many threads as cores (the default)
        // contends with Swift concurrency's threads and the journal's writer (benchmarks.md).
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoops)
        let application = Application(
            responder: api.responder,
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(configuration.idleTimeout.wholeMicroseconds * 1000)))),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "Almanac"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening", metadata: ["url": "http://\(host):\(port)"])
                await onListening(port)
            },
            eventLoopGroupProvider: .shared(loops),
            logger: logger
        )
        // First, so it stops last: its snapshot at shutdown holds the runs the dispatcher
        // recorded as it stopped.
        var snapshotServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let snapshots, configuration.snapshots.every > 0 {
            snapshotServices.append(.init(service: SnapshotWriter(
                store: store, snapshots: snapshots, clock: clock, configuration: configuration.snapshots,
                lastPosition: snapshotPosition ?? 0, logger: logger
            )))
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: snapshotServices + clusterServices + [
                .init(service: dispatcher),
                .init(service: SchedulerService(scheduler: scheduler, status: status)),
                .init(service: MetricsObserver(journal: journal, metrics: metrics, from: position, clock: clock)),
                .init(service: application),
            ],
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: logger
        )
        // A client that never reads, or a service that never ends, cannot hold the process:
        // past the runs' deadline and a margin, what is left is cancelled.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout + .seconds(5)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            try? await executor.shutdown()
            try? await loops.shutdownGracefully()
            throw error
        }
        do {
            try await executor.shutdown()
        } catch {
            try? await loops.shutdownGracefully()
            throw error
        }
        try await loops.shutdownGracefully()
        let head = (try? await journal.head()).map(String.init) ?? "unknown"
        logger.info("stopped", metadata: ["position": "\(head)"])
    }
}

extension AlmanacServer {
    /// The secrets key: read from its file, or created when missing — but not when live tasks
    /// hold secrets sealed with a key that is gone, unless the configuration allows a new key.
    /// Warns about tasks whose secrets the key cannot open.
    func openSecretsKey(store: ProjectionStore) async throws -> SecretBox {
        let path = configuration.secretsKeyFile ?? configuration.dataDirectory + "/secrets.key"
        let sealedWith = await store.read(Self.tasksBySealingKey)
        if !FileManager.default.fileExists(atPath: path), !sealedWith.isEmpty, !configuration.newSecretsKey {
            let count = sealedWith.values.reduce(0) { $0 + $1.count }
            throw SecretError(
                "the secrets key file \(path) is missing, and \(count) task(s) hold secrets sealed with key "
                    + "\(sealedWith.keys.sorted().joined(separator: ", ")); restore the key file, or start with "
                    + "--new-secrets-key and enter those secrets again (docs/secrets.md)"
            )
        }
        let (box, created) = try SecretFile.secretsKey(path, create: true)
        if created {
            logger.notice("secrets key created; keep a copy apart from the data directory (docs/secrets.md)",
                          metadata: ["file": "\(path)", "keyId": "\(box.keyID)"])
        }
        let stranded = Set(sealedWith.filter { $0.key != box.keyID }.values.flatMap { $0 }).sorted()
        if !stranded.isEmpty {
            let named = stranded.prefix(20).map(\.rawValue).joined(separator: ", ") + (stranded.count > 20 ? ", …" : "")
            logger.warning("\(stranded.count) task(s) hold secrets sealed with another key; their calls fail until the secrets are entered again",
                           metadata: ["keyId": "\(box.keyID)", "tasks": "\(named)"])
        }
        return box
    }

    /// The live tasks that hold secrets, by the id of the key that sealed them.
    static func tasksBySealingKey(_ projection: Projection) -> [String: [TaskID]] {
        var tasks: [String: [TaskID]] = [:]
        let sealing = projection.tasks.concurrentFlatMap { state -> [(TaskID, Set<String>)] in
            guard state.status != .deleted, state.definition.holdsSealedValues else { return [] }
            let action = state.definition.action
            var keys = Set<String>()
            for header in action.headers {
                if case .sealed(let sealed) = header.value { keys.insert(sealed.keyID ?? "unknown") }
            }
            if let sealed = action.signingSecret { keys.insert(sealed.keyID ?? "unknown") }
            return [(state.id, keys)]
        }
        for (task, keys) in sealing {
            for key in keys { tasks[key, default: []].append(task) }
        }
        return tasks
    }
}

/// The scheduler loop as a service that stops at a graceful shutdown, reporting whether it
/// runs to `/readyz`.
struct SchedulerService: Service {
    let scheduler: Scheduler
    let status: ServerStatus

    func run() async throws {
        status.schedulerRunning = true
        defer { status.schedulerRunning = false }
        do {
            try await cancelWhenGracefulShutdown { try await scheduler.run() }
        } catch {
            // Shut down: a journal read cut short by the cancellation may report it as a
            // storage error.
            if error is CancellationError || Task.isCancelled || Task.isShuttingDownGracefully { return }
            throw error
        }
    }
}

/// Applies the events other nodes append to a shared journal as they commit (this node's
/// own appends are applied by their writers).
struct ProjectionFollower: Service {
    let journal: any Journal
    let store: ProjectionStore
    let clock: any WallClock
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await journal.waitForEvents(after: await store.position)
                    try await store.catchUp()
                } catch {
                    if Task.isCancelled { return }
                    // The database is out of reach: keep trying; the projection waits.
                    logger.warning("cannot follow the journal; trying again", metadata: ["error": "\(error)"])
                    try await clock.sleep(until: clock.now() + .milliseconds(500))
                }
            }
        }
    }
}

/// Follows the journal and counts events, runs and lateness for `/metrics`.
struct MetricsObserver: Service {
    let journal: any Journal
    let metrics: ServerMetrics
    let from: UInt64
    let clock: any WallClock

    init(journal: any Journal, metrics: ServerMetrics, from: UInt64, clock: any WallClock) {
        self.journal = journal
        self.metrics = metrics
        self.from = from
        self.clock = clock
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var position = from
            while !Task.isCancelled {
                do {
                    for try await event in journal.subscribe(after: position) {
                        metrics.observe(event)
                        position = event.position
                    }
                    return  // the journal closed
                } catch {
                    // A read failed (the database out of reach): follow again from where it stopped.
                    if Task.isCancelled { return }
                    try await clock.sleep(until: clock.now() + .seconds(1))
                }
            }
        }
    }
}
