import AlmanacTesting
import AsyncHTTPClient
import Foundation
import Journal
import NIOCore
import NIOHTTP1
import PostgresJournal
import PostgresNIO
import Scheduling
import Testing
import Logging
import Synchronization

/// Several `almanac serve` nodes on one PostgreSQL journal (issue 9): each occurrence claimed
/// once, none missed, through node crashes and a database connection cut — checked by
/// `almanac audit` on the shared journal, by the journal's own events, and by what the
/// receiver saw.
@Suite(
    "Cluster on PostgreSQL, live", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["ALMANAC_TEST_POSTGRES_URL"] != nil, "needs ALMANAC_TEST_POSTGRES_URL (make test starts a server)")
)
struct ClusterTests {
    static var url: String { ProcessInfo.processInfo.environment["ALMANAC_TEST_POSTGRES_URL"] ?? "" }

    /// The `almanac` the nodes run: `ALMANAC_CLUSTER_BINARY` (`make test` gives a release
    /// build), else the debug build beside the tests.
    static var binary: String? { ProcessInfo.processInfo.environment["ALMANAC_CLUSTER_BINARY"] }

    /// A cluster of nodes on one fresh table, sharing secret files.
    final class Cluster: Sendable {
        let table = "cluster_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let directory: String
        let client: HTTPClient

        init(directory: String, client: HTTPClient) {
            self.directory = directory
            self.client = client
        }

        func start(_ name: String) async throws -> LiveServer {
            try await LiveServer.start(executable: ClusterTests.binary, dataDirectory: directory + "/" + name, client: client, extra: [
                "--journal", ClusterTests.url, "--journal-table", table, "--node-name", name,
                "--webhook-secret-file", directory + "/webhook.secret", "--secrets-key-file", directory + "/secrets.key",
                "--shutdown-timeout", "5s", "--max-concurrent-runs", "1000",
                // A run left in flight is recovered at its start + timeout + 5 s, its start read
                // from the run log: keep every run of the test's minute there.
                "--run-retention", "100",
            ])
        }

        /// `almanac audit --format json` on the shared journal.
        func audit(grace: String) async throws -> [String: Any] {
            let process = try ChildProcess(
                executable: try ClusterTests.binary ?? BuiltProduct.path("almanac"),
                arguments: ["audit", "--journal", ClusterTests.url, "--journal-table", table, "--grace", grace, "--format", "json"]
            )
            _ = await process.waitForExit()
            let text = process.lines.joined(separator: "\n")
            return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "audit printed: \(text)")
        }

        /// Every event of the shared journal, decoded.
        func events() async throws -> [(recorded: RecordedEvent, event: TaskEvent)] {
            let journal = try await PostgresJournal(configuration: .init(url: ClusterTests.url, table: table, clock: ContinuousClock()))
            defer { journal.close() }
            var all: [(RecordedEvent, TaskEvent)] = []
            var position: UInt64 = 0
            while true {
                let batch = try await journal.read(after: position, limit: 10_000)
                guard let last = batch.last else { break }
                for record in batch where !record.streamID.isReserved {
                    all.append((record, try EventCodec.decode(
                        type: record.type, schemaVersion: record.schemaVersion, payload: record.payload,
                        taskID: TaskID(record.streamID.rawValue), at: Instant(microsecondsSinceEpoch: record.recordedAt)
                    )))
                }
                position = last.position
            }
            return all
        }
    }

    /// Creates `count` tasks firing every second, spread over `nodes`; returns their ids.
    static func createTasks(_ count: Int, on nodes: [LiveServer], receiver: WebhookReceiver) async throws -> [String] {
        try await withThrowingTaskGroup(of: [String].self) { group in
            for lane in 0..<8 {
                group.addTask {
                    var ids: [String] = []
                    for index in stride(from: lane, to: count, by: 8) {
                        let node = nodes[index % nodes.count]
                        let (status, body) = try await node.send(
                            .POST, "/v1/tasks",
                            json: #"{"name":"c\#(index)","schedule":{"every":"1s"},"action":{"url":"\#(receiver.url("/c\(index)"))","method":"POST"},"retry":{"maxAttempts":5,"initialBackoff":"1s"}}"#
                        )
                        guard status == 201, let id = (body as? [String: Any])?["id"] as? String else {
                            throw HarnessError("create answered \(status): \(String(describing: body))")
                        }
                        ids.append(id)
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// What every cluster run must show: a clean audit with nothing missed, every scheduled
    /// occurrence of every task claimed exactly once from its first to its last, none
    /// skipped, each claim within `maxLateness` of its due instant, and each (idempotency key,
    /// attempt) received at most once.
    static func checkExactlyOnce(
        _ cluster: Cluster, tasks: [String], receiver: WebhookReceiver, maxLateness: Duration
    ) async throws -> (runs: Int, worstLateness: Duration) {
        // Runs a killed node left in flight are recovered at their start + timeout (30 s) + 5 s;
        // the audit's grace covers the instants they wait for that.
        let audit = try await cluster.audit(grace: "15s")
        #expect(audit["clean"] as? Bool == true, "audit problems: \(audit["problems"] ?? "-")")
        let events = try await cluster.events()
        var claims: [String: [Instant]] = [:]
        var skipped = 0
        var worst = Duration.zero
        for (recorded, event) in events {
            switch event.kind {
            case .runStarted(let start):
                if start.attempt == 1 { claims[event.taskID.rawValue, default: []].append(start.scheduledAt) }
                let lateness = Instant(microsecondsSinceEpoch: recorded.recordedAt) - start.dueAt
                worst = max(worst, lateness)
            case .occurrenceSkipped:
                skipped += 1
            default:
                break
            }
        }
        #expect(skipped == 0, "no occurrence skipped")
        #expect(Set(claims.keys) == Set(tasks), "every task ran")
        let lastClaim = claims.values.compactMap(\.last).max()
        for (task, instants) in claims {
            // Every second from the first claim to the last, each once, in order…
            let expected = (0..<instants.count).map { instants[0] + .seconds($0) }
            if instants != expected {
                Issue.record("task \(task): claims \(instants.count), not every second once: \(instants.map(\.rfc3339).prefix(5))…")
                break
            }
            // …and on to the end: no task stopped being claimed.
            if let last = instants.last, let lastClaim, lastClaim - last > .seconds(5) {
                Issue.record("task \(task): last claimed at \(last.rfc3339), the cluster's last claim was \(lastClaim.rfc3339)")
                break
            }
        }
        #expect(worst <= maxLateness, "the latest claim came \(worst) after its due instant")
        var seen: [String: Int] = [:]
        for call in receiver.received {
            seen["\(call.header("Idempotency-Key") ?? "-") #\(call.header("Almanac-Attempt") ?? "-")", default: 0] += 1
        }
        let repeated = seen.filter { $0.value > 1 }
        #expect(repeated.isEmpty, "received more than once: \(repeated.prefix(5))")
        return (claims.values.reduce(0) { $0 + $1.count }, worst)
    }

    /// A thousand runs a second on three nodes is more than debug builds do on a small
    /// machine: this one runs the release build `make test` makes.
    @Test(
        .timeLimit(.minutes(5)),
        .enabled(if: ClusterTests.binary != nil, "needs ALMANAC_CLUSTER_BINARY, a release build of almanac (make test builds one)")
    )
    func threeNodesRunAThousandPerSecondTasksThroughCrashesExactlyOnce() async throws {
        let receiver = try await WebhookReceiver.start { _ in .init(status: 200, body: "ok") }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let clock = SystemClock()
        try await TemporaryDirectory.with(prefix: "almanac-cluster") { directory in
            let cluster = Cluster(directory: directory, client: client)
            var nodes = [try await cluster.start("n0"), try await cluster.start("n1"), try await cluster.start("n2")]
            let tasks = try await Self.createTasks(1_000, on: nodes, receiver: receiver)
            let started = clock.now()
            func at(_ seconds: Int) async throws { try await clock.sleep(until: started + .seconds(seconds)) }
            // Kill a node, restart it, twice (a different node each time), over a minute.
            for (victim, when) in [(0, 15), (1, 35)] {
                try await at(when)
                nodes[victim].process.send(SIGKILL)
                _ = await nodes[victim].process.waitForExit()
                try await at(when + 5)
                nodes[victim] = try await cluster.start("n\(victim)")
            }
            try await at(60)
            // Stop one at a time: the others take the shards over until the last one stops.
            for node in nodes { #expect(await node.stop() == 0) }
            let (runs, worst) = try await Self.checkExactlyOnce(cluster, tasks: tasks, receiver: receiver, maxLateness: .seconds(5))
            #expect(runs >= 1_000 * 55, "a thousand tasks for about a minute: \(runs) runs")
            print("cluster: \(runs) runs, latest claim \(worst) after its due instant")
        }
        try await client.shutdown()
        try await receiver.stop()
    }

    /// `tools/postgres-test-server.sh` with `arguments`; its standard output lines.
    static func postgresServer(_ arguments: [String]) async throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = try ChildProcess(executable: "/bin/bash", arguments: [root.path + "/tools/postgres-test-server.sh"] + arguments)
        let exit = await process.waitForExit()
        guard exit.status == 0 else { throw HarnessError("postgres-test-server.sh \(arguments) failed: \(process.lines)") }
        return process.lines
    }

    @Test(.timeLimit(.minutes(3)))
    func whileTheDatabaseIsDownCommandsAnswer503AndReadsGoOn() async throws {
        let client = HTTPClient.shared
        let clock = SystemClock()
        let directory = "/tmp/almanac-outage-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A server of its own, to stop and start again.
        let url = try #require(try await Self.postgresServer(["start", directory + "/pg", "55441"]).last)
        let started = Mutex<LiveServer?>(nil)
        do {
            let node = try await LiveServer.start(dataDirectory: directory + "/node", client: client, extra: [
                "--journal", url, "--node-name", "outage", "--shutdown-timeout", "2s", "--journal-timeout", "3s",
            ])
            started.withLock { $0 = node }
            let body = #"{"name":"kept","schedule":{"every":"1h"},"action":{"url":"http://127.0.0.1:9/kept"}}"#
            let (created, task) = try await node.send(.POST, "/v1/tasks", json: body)
            #expect(created == 201)
            let id = try #require((task as? [String: Any])?["id"] as? String)

            _ = try await Self.postgresServer(["halt", directory + "/pg"])
            let before = clock.now()
            let (status, problem) = try await node.send(.POST, "/v1/tasks", json: body.replacingOccurrences(of: "kept", with: "lost"))
            #expect(status == 503)
            #expect((problem as? [String: Any])?["type"] as? String == "urn:almanac:problem:journal-unavailable", "\(String(describing: problem))")
            #expect(clock.now() - before < .seconds(8), "answered within the journal timeout (3 s)")
            let (read, shown) = try await node.send(.GET, "/v1/tasks/\(id)")
            #expect(read == 200 && (shown as? [String: Any])?["name"] as? String == "kept", "reads answer from the projection")

            _ = try await Self.postgresServer(["resume", directory + "/pg", "55441"])
            var recovered = 0
            for _ in 0..<40 where recovered != 201 {
                recovered = try await node.send(.POST, "/v1/tasks", json: body.replacingOccurrences(of: "kept", with: "later")).status
                if recovered != 201 { try await clock.sleep(until: clock.now() + .milliseconds(500)) }
            }
            #expect(recovered == 201, "the node reconnects once the database is back")
            #expect(await node.stop() == 0)
            // Nothing was recorded for the refused command.
            let journal = try await PostgresJournal(configuration: .init(url: url, clock: ContinuousClock()))
            let names = try await journal.read(after: 0, limit: 100).filter { $0.type == "TaskCreated" }.compactMap { record in
                try? EventCodec.decode(
                    type: record.type, schemaVersion: record.schemaVersion, payload: record.payload,
                    taskID: TaskID(record.streamID.rawValue), at: Instant(microsecondsSinceEpoch: record.recordedAt)
                )
            }.compactMap { event -> String? in
                if case .created(let definition, _) = event.kind { return definition.name }
                return nil
            }
            journal.close()
            #expect(names == ["kept", "later"])
        } catch {
            started.withLock { $0 }?.process.send(SIGKILL)
            _ = try? await Self.postgresServer(["stop", directory + "/pg"])
            throw error
        }
        _ = try await Self.postgresServer(["stop", directory + "/pg"])
    }

    /// The built `almanac` with `arguments`: its output lines and exit status.
    static func almanac(_ arguments: [String]) async throws -> (lines: [String], status: Int32) {
        let process = try ChildProcess(executable: try BuiltProduct.path("almanac"), arguments: arguments, collectingStandardError: true)
        return await process.waitForExit()
    }

    static func digest(_ arguments: [String]) async throws -> String? {
        let (lines, _) = try await almanac(["audit", "--grace", "100000s", "--format", "json"] + arguments)
        let json = try #require(lines.first { $0.hasPrefix("{") }, "audit printed: \(lines)")
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        guard report?["clean"] as? Bool == true else { return nil }
        return report?["digest"] as? String
    }

    @Test(.timeLimit(.minutes(3)))
    func aJournalMovesFromLMDBToPostgreSQLAndBackWithEqualDigests() async throws {
        let receiver = try await WebhookReceiver.start { _ in .init(status: 200, body: "ok") }
        let clock = SystemClock()
        try await TemporaryDirectory.with(prefix: "almanac-migrate") { directory in
            // A real LMDB journal: tasks that ran, a paused one, a deleted one.
            let server = try await LiveServer.start(dataDirectory: directory + "/lmdb", client: HTTPClient.shared)
            var ids: [String] = []
            for name in ["a", "b", "c"] {
                let (status, body) = try await server.send(
                    .POST, "/v1/tasks", json: #"{"name":"\#(name)","schedule":{"every":"1s"},"action":{"url":"\#(receiver.url("/\(name)"))"}}"#
                )
                #expect(status == 201)
                ids.append(try #require((body as? [String: Any])?["id"] as? String))
            }
            #expect(await receiver.waitForRequests(6, timeout: 15))
            #expect(try await server.send(.POST, "/v1/tasks/\(ids[1])/pause").status == 200)
            #expect(try await server.send(.DELETE, "/v1/tasks/\(ids[2])").status < 300)
            try await clock.sleep(until: clock.now() + .milliseconds(1500))
            #expect(await server.stop() == 0)

            let table = "migrated_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
            let postgres = ["--journal", Self.url, "--journal-table", String(table)]
            let source = try #require(try await Self.digest(["--data-dir", directory + "/lmdb"]))
            #expect(try await Self.almanac(["export", "--data-dir", directory + "/lmdb", "-o", directory + "/lmdb.jsonl"]).status == 0)
            #expect(try await Self.almanac(["import", directory + "/lmdb.jsonl"] + postgres).status == 0)
            #expect(try await Self.digest(postgres) == source, "LMDB to PostgreSQL keeps the digest")
            #expect(try await Self.almanac(["export", "-o", directory + "/pg.jsonl"] + postgres).status == 0)
            let (fromLMDB, fromPostgres) = (try Data(contentsOf: URL(fileURLWithPath: directory + "/lmdb.jsonl")), try Data(contentsOf: URL(fileURLWithPath: directory + "/pg.jsonl")))
            #expect(fromLMDB == fromPostgres, "both journals export the same lines, checksums included")
            #expect(try await Self.almanac(["import", directory + "/pg.jsonl", "--data-dir", directory + "/back"]).status == 0)
            #expect(try await Self.digest(["--data-dir", directory + "/back"]) == source, "and back to LMDB")

            // A second import into the same table is refused; an altered file is refused and
            // leaves no table behind (the same name imports cleanly afterwards).
            #expect(try await Self.almanac(["import", directory + "/pg.jsonl"] + postgres).status == 1)
            var lines = try String(contentsOfFile: directory + "/pg.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
            lines[2] = lines[2].replacingOccurrences(of: #""schemaVersion":"#, with: #""schemaVersion":9"#)
            try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/altered.jsonl", atomically: true, encoding: .utf8)
            let fresh = ["--journal", Self.url, "--journal-table", String(table) + "_b"]
            let refused = try await Self.almanac(["import", directory + "/altered.jsonl"] + fresh)
            #expect(refused.status == 1)
            #expect(refused.lines.contains { $0.contains("line 3 (position 3)") && $0.contains("altered") }, "\(refused.lines)")
            #expect(try await Self.almanac(["import", directory + "/pg.jsonl"] + fresh).status == 0, "the failed import left nothing behind")
            #expect(try await Self.digest(fresh) == source)
        }
        try await receiver.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func aNodeWhoseDatabaseConnectionIsCutRejoinsWithoutDuplicates() async throws {
        let receiver = try await WebhookReceiver.start { _ in .init(status: 200, body: "ok") }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let clock = SystemClock()
        try await TemporaryDirectory.with(prefix: "almanac-cluster") { directory in
            let cluster = Cluster(directory: directory, client: client)
            let nodes = [try await cluster.start("cut"), try await cluster.start("kept")]
            let tasks = try await Self.createTasks(100, on: nodes, receiver: receiver)
            let started = clock.now()
            try await clock.sleep(until: started + .seconds(5))
            // Cut every connection of one node, from the server's side, twice.
            let settings = try PostgresJournal.Configuration(url: Self.url, clock: ContinuousClock())
            let admin = try await PostgresConnection.connect(configuration: settings.connection, id: 9, logger: Logger(label: "test"))
            for round in 0..<2 {
                var cut: Int64 = 0
                let rows = try await admin.query(
                    "SELECT count(pg_terminate_backend(pid))::bigint FROM pg_stat_activity WHERE application_name = 'almanac:cut'",
                    logger: Logger(label: "test")
                )
                for try await count in rows.decode(Int64.self) { cut = count }
                #expect(cut >= 2, "round \(round): the node's lease, listening and pool connections")
                try await clock.sleep(until: started + .seconds(5 + 8 * (round + 1)))
            }
            // The node is back: it holds its member lock and shards again (advisory locks of its
            // sessions), and serves.
            var locks: Int64 = 0
            let rows = try await admin.query(
                "SELECT count(*)::bigint FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'almanac:cut'",
                logger: Logger(label: "test")
            )
            for try await count in rows.decode(Int64.self) { locks = count }
            #expect(locks >= 2 && locks <= 33, "a member lock and about half the 64 shards: \(locks)")
            try await admin.close()
            let (status, _) = try await nodes[0].send(.GET, "/v1/tasks?limit=1")
            #expect(status == 200)
            // Readiness holds on a busy cluster, and says how many shards each node owns.
            var held = 0
            for node in nodes {
                let (ready, body) = try await node.send(.GET, "/readyz")
                let fields = body as? [String: Any]
                #expect(ready == 200, "\(String(describing: body))")
                #expect(fields?["shardCount"] as? Int == 64)
                held += fields?["shardsHeld"] as? Int ?? 0
            }
            #expect(held == 64, "the two nodes own every shard between them")
            for node in nodes { #expect(await node.stop() == 0) }
            let (runs, _) = try await Self.checkExactlyOnce(cluster, tasks: tasks, receiver: receiver, maxLateness: .seconds(5))
            #expect(runs >= 100 * 18)
        }
        try await client.shutdown()
        try await receiver.stop()
    }
}
