import ArgumentParser
import Engine
import Foundation
import Logging
import NIOCore
import PostgresJournal
import Projections
import Server

/// `almanac serve`: the HTTP API, the scheduler and the webhook executor over one journal.
/// Every option can also be set through its `ALMANAC_…` environment variable.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the scheduler and its HTTP API on a data directory.",
        discussion: "Every option can also be given as an environment variable: ALMANAC_DATA_DIR, ALMANAC_JOURNAL, ALMANAC_JOURNAL_TABLE, ALMANAC_JOURNAL_TIMEOUT, ALMANAC_NODE_NAME, ALMANAC_HOST, "
            + "ALMANAC_PORT, ALMANAC_MAP_SIZE, ALMANAC_LOG_LEVEL, ALMANAC_LOG_FORMAT, ALMANAC_CORS_ORIGINS "
            + "(comma-separated), ALMANAC_MAX_BODY_BYTES, ALMANAC_MAX_CONCURRENT_RUNS, ALMANAC_RUN_RETENTION, "
            + "ALMANAC_STREAM_HEARTBEAT, ALMANAC_IDLE_TIMEOUT, ALMANAC_EVENT_LOOPS, ALMANAC_SHUTDOWN_TIMEOUT, "
            + "ALMANAC_REQUIRE_AUTH and ALMANAC_PROTECT_METRICS (true or false), ALMANAC_WEBHOOK_SECRET_FILE, ALMANAC_SECRETS_KEY_FILE, ALMANAC_NEW_SECRETS_KEY (true or false), ALMANAC_ALLOW_CIDR, ALMANAC_DENY_CIDR, ALMANAC_DENY_PRIVATE, ALMANAC_RATE_LIMIT, ALMANAC_RATE_BURST, ALMANAC_MAX_TASKS_PER_NAMESPACE, ALMANAC_MAX_URL_LENGTH, "
            + "ALMANAC_MAX_ACTION_HEADERS, ALMANAC_MAX_ACTION_BODY. "
            + "A flag wins over its variable."
    )

    private static let environment = ProcessInfo.processInfo.environment

    @Option(help: "The journal's directory (created when missing), and the default place of the secret files.")
    var dataDir: String = environment["ALMANAC_DATA_DIR"] ?? "./data"

    @Option(help: "Where the journal is: lmdb (in the data directory), or a postgres://user[:password]@host[:port]/database URL to run as a node of the cluster sharing it (docs/cluster.md).")
    var journal: String = environment["ALMANAC_JOURNAL"] ?? "lmdb"

    @Option(help: "The PostgreSQL journal's table (lowercase letters, digits and _).")
    var journalTable: String = environment["ALMANAC_JOURNAL_TABLE"] ?? "almanac_events"

    @Option(help: "How long a PostgreSQL journal operation may wait for the database before the command fails with 503, e.g. 10s.")
    var journalTimeout: String = environment["ALMANAC_JOURNAL_TIMEOUT"] ?? "10s"

    @Option(help: "This node's name, shown to PostgreSQL as application_name almanac:<name>.")
    var nodeName: String = environment["ALMANAC_NODE_NAME"] ?? ""

    @Option(help: "The address to listen on.")
    var host: String = environment["ALMANAC_HOST"] ?? "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port: Int = environment["ALMANAC_PORT"].flatMap(Int.init) ?? 8080

    @Option(help: "The journal's capacity (LMDB map size), e.g. 16GiB, 512MiB or a byte count.")
    var mapSize: String = environment["ALMANAC_MAP_SIZE"] ?? "16GiB"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = environment["ALMANAC_LOG_LEVEL"] ?? "info"

    @Option(help: "json, text, or auto (json unless standard error is a terminal).")
    var logFormat: String = environment["ALMANAC_LOG_FORMAT"] ?? "auto"

    @Option(help: "Origins allowed to call the API from a browser, comma-separated (`*` for any). CORS is off without it.")
    var corsOrigins: String = environment["ALMANAC_CORS_ORIGINS"] ?? ""

    @Option(help: "The largest request body accepted, in bytes.")
    var maxBodyBytes: Int = environment["ALMANAC_MAX_BODY_BYTES"].flatMap(Int.init) ?? 256 * 1024

    @Option(help: "The most webhook calls in flight at once.")
    var maxConcurrentRuns: Int = environment["ALMANAC_MAX_CONCURRENT_RUNS"].flatMap(Int.init) ?? 256

    @Option(help: "How long the event stream stays silent before it sends a heartbeat comment, e.g. 15s (keep it below proxies' idle timeouts).")
    var streamHeartbeat: String = environment["ALMANAC_STREAM_HEARTBEAT"] ?? "15s"

    @Option(help: "How long a connection may sit idle, or stall mid-request, before it is closed, e.g. 60s.")
    var idleTimeout: String = environment["ALMANAC_IDLE_TIMEOUT"] ?? "60s"

    @Option(help: "The HTTP server's event-loop threads (default: half the cores, at least one).")
    var eventLoops: Int = environment["ALMANAC_EVENT_LOOPS"].flatMap(Int.init) ?? AlmanacServer.defaultEventLoops

    @Option(help: "How long SIGTERM/SIGINT waits for running webhook calls before recording them as interrupted, e.g. 30s. The whole shutdown takes at most this plus 10 s.")
    var shutdownTimeout: String = environment["ALMANAC_SHUTDOWN_TIMEOUT"] ?? "30s"

    @Option(help: ArgumentHelp("How many stream-index entries the journal gathers before writing them in one sorted batch (ADR 0001).", visibility: .hidden))
    var indexFlushThreshold: Int = environment["ALMANAC_INDEX_FLUSH_THRESHOLD"].flatMap(Int.init) ?? 8_192

    @Flag(inversion: .prefixedNo, help: "Ask for a token on every /v1 route even before any token is issued (issue one with `almanac tokens create`). Once a token exists, tokens are always required.")
    var requireAuth: Bool = ["1", "true", "yes"].contains(environment["ALMANAC_REQUIRE_AUTH"]?.lowercased() ?? "")

    @Flag(inversion: .prefixedNo, help: "Ask for a token (any role) on /metrics too, when tokens are required.")
    var protectMetrics: Bool = ["1", "true", "yes"].contains(environment["ALMANAC_PROTECT_METRICS"]?.lowercased() ?? "")

    @Option(help: "Requests per second each caller may make on /v1 — per token, or per client address without one — e.g. 50/s, or off. Above it: 429 with Retry-After.")
    var rateLimit: String = environment["ALMANAC_RATE_LIMIT"] ?? "off"

    @Option(help: "How many requests a caller may make at once above the rate (the bucket's size; default: twice the rate, at least 10).")
    var rateBurst: Int?

    @Option(help: "How many tasks (not deleted) one namespace may hold.")
    var maxTasksPerNamespace: Int = environment["ALMANAC_MAX_TASKS_PER_NAMESPACE"].flatMap(Int.init) ?? 100_000

    @Option(help: "The longest webhook URL, in characters.")
    var maxUrlLength: Int = environment["ALMANAC_MAX_URL_LENGTH"].flatMap(Int.init) ?? 2048

    @Option(help: "How many headers a task's action may carry.")
    var maxActionHeaders: Int = environment["ALMANAC_MAX_ACTION_HEADERS"].flatMap(Int.init) ?? 64

    @Option(help: "The longest webhook body template, in characters.")
    var maxActionBody: Int = environment["ALMANAC_MAX_ACTION_BODY"].flatMap(Int.init) ?? 64 * 1024

    @Option(help: "Address ranges webhooks may always reach, comma-separated CIDRs (e.g. 169.254.10.0/24); they win over every deny rule.")
    var allowCidr: String = environment["ALMANAC_ALLOW_CIDR"] ?? ""

    @Option(help: "Address ranges webhooks may not reach, comma-separated CIDRs, in addition to link-local and metadata addresses.")
    var denyCidr: String = environment["ALMANAC_DENY_CIDR"] ?? ""

    @Flag(inversion: .prefixedNo, help: "Refuse webhooks to loopback and private addresses too (127/8, 10/8, 172.16/12, 192.168/16, 100.64/10, ::1, fc00::/7).")
    var denyPrivate: Bool = ["1", "true", "yes"].contains(environment["ALMANAC_DENY_PRIVATE"]?.lowercased() ?? "")

    @Option(help: "The file holding the webhook signing secret (whsec_…, mode 0600), created on first start (default: webhook-signing.secret in the data directory).")
    var webhookSecretFile: String?

    @Option(help: "The file holding the key that seals secret header values and signing secrets (mode 0600), created on first start (default: secrets.key in the data directory). Keep a copy apart from the data.")
    var secretsKeyFile: String?

    @Flag(help: "Create a new secrets key although tasks hold secrets sealed with a key that is missing; those secrets must then be entered again.")
    var newSecretsKey: Bool = ["1", "true", "yes"].contains(environment["ALMANAC_NEW_SECRETS_KEY"]?.lowercased() ?? "")

    @Option(help: "How many recent runs of each task are kept in memory and served by the API.")
    var runRetention: Int = environment["ALMANAC_RUN_RETENTION"].flatMap(Int.init) ?? 20

    @Option(help: "Events applied between projection snapshots, which a restart reads instead of replaying the whole journal; one is also written at shutdown (0: none). LMDB journal only.")
    var snapshotEvery: UInt64 = environment["ALMANAC_SNAPSHOT_EVERY"].flatMap(UInt64.init) ?? 1_000_000

    @Option(help: ArgumentHelp("How often the events since the last snapshot are counted, e.g. 10s.", visibility: .hidden))
    var snapshotCheckInterval: String = environment["ALMANAC_SNAPSHOT_CHECK_INTERVAL"] ?? "10s"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        if journal != "lmdb" {
            guard journal.hasPrefix("postgres://") || journal.hasPrefix("postgresql://") else {
                throw ValidationError("--journal must be lmdb or a postgres://user[:password]@host[:port]/database URL")
            }
            do {
                _ = try PostgresJournal.Configuration(url: journal, clock: ContinuousClock())
            } catch {
                throw ValidationError("--journal: \(error)")
            }
        }
        guard let timeout = DurationText.parse(journalTimeout), timeout >= .milliseconds(100) else {
            throw ValidationError("--journal-timeout must be a duration of at least 100ms, e.g. 10s")
        }
        if let problem = PostgresJournal.problem(withTable: journalTable) { throw ValidationError("--journal-table: \(problem)") }
        guard ByteSize.parse(mapSize) != nil else {
            throw ValidationError("--map-size \"\(mapSize)\" is not a size; write e.g. 16GiB, 512MiB or 1073741824")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard ["json", "text", "auto"].contains(logFormat) else {
            throw ValidationError("--log-format must be json, text or auto")
        }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard maxConcurrentRuns >= 1 else { throw ValidationError("--max-concurrent-runs must be at least 1") }
        guard (1...256).contains(eventLoops) else { throw ValidationError("--event-loops must be 1 to 256") }
        guard (1...100_000).contains(runRetention) else { throw ValidationError("--run-retention must be 1 to 100000") }
        guard let heartbeat = DurationText.parse(streamHeartbeat), heartbeat >= .milliseconds(10) else {
            throw ValidationError("--stream-heartbeat must be a duration of at least 10ms, e.g. 15s")
        }
        guard let idle = DurationText.parse(idleTimeout), idle >= .milliseconds(100) else {
            throw ValidationError("--idle-timeout must be a duration of at least 100ms, e.g. 60s")
        }
        guard maxTasksPerNamespace >= 1, maxUrlLength >= 16, maxActionHeaders >= 0, maxActionBody >= 0 else {
            throw ValidationError("--max-tasks-per-namespace must be at least 1, --max-url-length at least 16, and the other limits 0 or more")
        }
        guard rateLimit == "off" || Self.rate(rateLimit) != nil else {
            throw ValidationError("--rate-limit must be off or requests per second such as 50/s or 0.5/s")
        }
        if let rateBurst, rateBurst < 1 { throw ValidationError("--rate-burst must be at least 1") }
        for (flag, list) in [("--allow-cidr", allowCidr), ("--deny-cidr", denyCidr)] {
            for item in Self.cidrs(list) where CIDR(item) == nil {
                throw ValidationError("\(flag): \"\(item)\" is not an address range; write e.g. 10.0.0.0/8 or fd00::/8")
            }
        }
        guard let check = DurationText.parse(snapshotCheckInterval), check >= .milliseconds(10) else {
            throw ValidationError("--snapshot-check-interval must be a duration of at least 10ms, e.g. 10s")
        }
        guard DurationText.parse(shutdownTimeout) != nil else {
            throw ValidationError("--shutdown-timeout must be a duration, e.g. 30s (0s: interrupt running calls at once)")
        }
    }

    /// `50/s` (or `50`) as requests per second.
    static func rate(_ text: String) -> Double? {
        let number = text.hasSuffix("/s") ? String(text.dropLast(2)) : text
        guard let value = Double(number), value > 0, value.isFinite else { return nil }
        return value
    }

    private func burst(for rate: Double) -> Int {
        rateBurst ?? Self.environment["ALMANAC_RATE_BURST"].flatMap(Int.init) ?? max(10, Int(rate * 2))
    }

    static func cidrs(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        // Before the projection allocates anything (see ProcessMemory).
        ProcessMemory.mapLargeBlocks()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "auto" ? isatty(STDERR_FILENO) == 0 : logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "almanac")
        let origins = corsOrigins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let configuration = AlmanacServer.Configuration(
            dataDirectory: dataDir, host: host, port: port, mapSize: ByteSize.parse(mapSize) ?? 1 << 34,
            api: APIConfiguration(
                maxBodyBytes: maxBodyBytes, corsOrigins: origins, heartbeat: DurationText.parse(streamHeartbeat) ?? .seconds(15),
                requireAuth: requireAuth, protectMetrics: protectMetrics,
                addressPolicy: AddressPolicy(
                    allow: Self.cidrs(allowCidr).compactMap(CIDR.init),
                    deny: AddressPolicy.defaultDeny + Self.cidrs(denyCidr).compactMap(CIDR.init),
                    denyPrivate: denyPrivate
                ),
                rateLimit: Self.rate(rateLimit).map { rate in (rate, burst(for: rate)) },
                limits: TaskLimits(
                    maxTasksPerNamespace: maxTasksPerNamespace, maxURLLength: maxUrlLength, maxHeaders: maxActionHeaders,
                    maxActionBody: maxActionBody
                )
            ),
            maxConcurrentRuns: maxConcurrentRuns, runRetention: runRetention,
            idleTimeout: DurationText.parse(idleTimeout) ?? .seconds(60),
            shutdownTimeout: DurationText.parse(shutdownTimeout) ?? .seconds(30)
        )
        var configured = configuration
        configured.indexFlushThreshold = max(1, indexFlushThreshold)
        configured.eventLoops = eventLoops
        configured.journalURL = journal == "lmdb" ? nil : journal
        configured.journalTable = journalTable
        configured.journalTimeout = DurationText.parse(journalTimeout) ?? .seconds(10)
        configured.nodeName = nodeName.isEmpty ? nil : nodeName
        configured.webhookSecretFile = webhookSecretFile ?? Self.environment["ALMANAC_WEBHOOK_SECRET_FILE"]
        configured.secretsKeyFile = secretsKeyFile ?? Self.environment["ALMANAC_SECRETS_KEY_FILE"]
        configured.newSecretsKey = newSecretsKey
        configured.snapshots = SnapshotWriter.Configuration(
            every: snapshotEvery, checkInterval: DurationText.parse(snapshotCheckInterval) ?? .seconds(10)
        )
        let server = AlmanacServer(configuration: configured, clock: SystemWallClock(), timer: ContinuousClock(), logger: logger)
        let host = self.host
        do {
            try await server.run(onListening: { port in
                // One line on standard output, for scripts and tests that start on port 0.
                FileHandle.standardOutput.write(Data("almanac: listening on http://\(host):\(port)\n".utf8))
            })
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            // The usual cause of a failed start: said plainly, on standard error too.
            let message = "cannot listen on \(host):\(port): the address is in use by another process"
                + " (choose another with --port or ALMANAC_PORT)"
            logger.critical("almanac serve failed", metadata: ["error": "\(message)"])
            FileHandle.standardError.write(Data("almanac: \(message)\n".utf8))
            throw ExitCode(1)
        } catch {
            logger.critical("almanac serve failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

/// Sizes such as `16GiB`, `512MiB`, `64KiB` or a plain byte count.
enum ByteSize {
    static func parse(_ text: String) -> Int? {
        let units: [(String, Int)] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        for (suffix, size) in units where text.hasSuffix(suffix) {
            guard let count = Int(text.dropLast(suffix.count)), count > 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            return overflow ? nil : product
        }
        return Int(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
