import Access
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Journal
import NIOCore
import NIOHTTP1
import Scheduling

/// `almanac tokens`: issue, list and revoke API tokens. Offline on the data directory (while
/// no server runs on it), or through a running server's API with `--server`.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Issue, list and revoke API tokens.",
        discussion: "Once a token exists, every /v1 route of the server asks for one (Authorization: Bearer <token>). "
            + "Without --server the command works on the data directory, which no server may be writing to "
            + "(list works beside a running server). With --server it goes through the server's API, "
            + "authenticated by the admin token in the ALMANAC_TOKEN environment variable.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Target: ParsableArguments {
        @OptionGroup var data: DataDirectoryOptions

        @Option(name: .customLong("server"), help: "A running server's base URL, e.g. http://127.0.0.1:8080 (also ALMANAC_SERVER; the admin token comes from ALMANAC_TOKEN).")
        var serverOption: String?

        var server: String? { serverOption ?? ProcessInfo.processInfo.environment["ALMANAC_SERVER"] }

        @Option(help: "Why (recorded with the event).")
        var reason: String?

        @Option(help: "table or json.")
        var format: OutputFormat = .table
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a token and print it (only this once).")

        @Option(help: "The token's name: the actor recorded on every command made with it.")
        var name: String

        @Option(help: "viewer (reads), operator (also pauses, resumes, triggers) or admin (everything).")
        var role: RoleArgument

        @Option(help: "The only namespace the token sees and changes (default: all).")
        var namespace: String?

        @OptionGroup var target: Target

        func run() async throws {
            let token: AccessToken
            let text: String
            let role = Role(rawValue: self.role.rawValue) ?? .viewer
            if let server = target.server {
                var body: [String: String] = ["name": name, "role": role.rawValue]
                body["namespace"] = namespace
                let reply = try await ServerCall.send(.POST, server, "/v1/tokens", body: body, reason: target.reason)
                guard let created = reply["token"] as? String, let id = reply["id"] as? String else {
                    throw CommandError("the server's answer has no token")
                }
                text = created
                token = AccessToken(
                    id: id, name: name, role: role, namespace: reply["namespace"] as? String, hash: "",
                    createdAt: (reply["createdAt"] as? String).flatMap(Instant.init(rfc3339:)) ?? Instant(Date()),
                    createdBy: reply["createdBy"] as? String ?? ""
                )
            } else {
                let issued: (AccessToken, String) = try await OfflineAccess.write(target.data) {
                    (state: AccessState, now: Instant) throws -> (AccessEvent, (AccessToken, String)) in
                    var generator = SystemRandomNumberGenerator()
                    let decided = try state.create(
                        name: name, role: role, namespace: namespace, actor: "cli", reason: target.reason, now: now,
                        using: &generator
                    )
                    guard case .tokenCreated(let token) = decided.event.kind else { throw CommandError("unexpected decision") }
                    return (decided.event, (token, decided.text))
                }
                (token, text) = issued
            }
            switch target.format {
            case .json:
                var fields: [String: Any] = ["id": token.id, "name": token.name, "role": token.role.rawValue, "token": text]
                fields["namespace"] = token.namespace as Any? ?? NSNull()
                output(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self) + "\n")
            case .table:
                output("token \(token.id) \"\(token.name)\" (\(token.role.rawValue), namespace \(token.namespace ?? "all")) issued.\n")
                output("Keep it now; it is not shown again:\n\n  \(text)\n\n")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")

        @Flag(help: "Include revoked tokens.")
        var all = false

        @OptionGroup var target: Target

        func run() async throws {
            var rows: [[String: Any]]
            if let server = target.server {
                let reply = try await ServerCall.send(.GET, server, "/v1/tokens", body: nil, reason: nil)
                rows = reply["items"] as? [[String: Any]] ?? []
            } else {
                let journal = try target.data.openJournal()
                defer { journal.close() }
                rows = try OfflineAccess.state(of: journal).ordered.map(OfflineAccess.row)
            }
            if !all { rows = rows.filter { $0["active"] as? Bool ?? false } }
            switch target.format {
            case .json:
                output(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self) + "\n")
            case .table:
                let heading: [(String, Int)] = [("ID", 18), ("NAME", 24), ("ROLE", 10), ("NAMESPACE", 16), ("CREATED", 29)]
                output(heading.map { column($0.0, $0.1) }.joined() + "REVOKED\n")
                for row in rows {
                    let cells: [(String, Int)] = [
                        (row["id"] as? String ?? "", 18),
                        (row["name"] as? String ?? "", 24),
                        (row["role"] as? String ?? "", 10),
                        (row["namespace"] as? String ?? "(all)", 16),
                        (row["createdAt"] as? String ?? "", 29),
                    ]
                    let revokedAt: String = row["revokedAt"] as? String ?? "-"
                    output(cells.map { column($0.0, $0.1) }.joined() + revokedAt + "\n")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token, by id or by name.")

        @Argument(help: "The token's id, or the name of an active token.")
        var token: String

        @OptionGroup var target: Target

        func run() async throws {
            if let server = target.server {
                var id = TokenText.id(of: token) ?? token
                if TokenText.id(of: token) == nil, !(token.count == 16 && token.allSatisfy({ $0.isLowercase || $0.isNumber })) {
                    // A name: find its id first.
                    let reply = try await ServerCall.send(.GET, server, "/v1/tokens", body: nil, reason: nil)
                    let items = reply["items"] as? [[String: Any]] ?? []
                    guard let match = items.first(where: { $0["name"] as? String == token && $0["active"] as? Bool == true }),
                        let found = match["id"] as? String
                    else { throw CommandError("no active token is named \"\(token)\"") }
                    id = found
                }
                _ = try await ServerCall.send(.DELETE, server, "/v1/tokens/\(id)", body: nil, reason: target.reason)
                output("token \(id) revoked.\n")
            } else {
                let revoked: String = try await OfflineAccess.write(target.data) {
                    (state: AccessState, now: Instant) throws -> (AccessEvent, String) in
                    let event = try state.revoke(token, actor: "cli", reason: target.reason, now: now, allowingLastAdmin: true)
                    guard case .tokenRevoked(let id) = event.kind else { throw CommandError("unexpected decision") }
                    return (event, id)
                }
                output("token \(revoked) revoked.\n")
            }
        }
    }
}

/// The access stream of a journal on disk.
enum OfflineAccess {
    /// A token as `tokens list` prints it (the API's fields).
    static func row(_ token: AccessToken) -> [String: Any] {
        var row: [String: Any] = [:]
        row["id"] = token.id
        row["name"] = token.name
        row["role"] = token.role.rawValue
        row["namespace"] = token.namespace.map { $0 as Any } ?? NSNull()
        row["active"] = token.isActive
        row["createdAt"] = token.createdAt.rfc3339
        row["createdBy"] = token.createdBy
        row["revokedAt"] = token.revokedAt.map { $0.rfc3339 as Any } ?? NSNull()
        return row
    }

    static func state(of journal: LMDBJournal) throws -> AccessState {
        var records: [RecordedEvent] = []
        while true {
            let batch = try journal.readStream(AccessEvent.streamID, after: UInt64(records.count), limit: 1024)
            if batch.isEmpty { break }
            records += batch
        }
        return try AccessState.folding(records)
    }

    /// Decides on the access state of the journal in `data` and appends the event, holding the
    /// journal's writer lock (refused while a server runs on it).
    static func write<T>(_ data: DataDirectoryOptions, _ decide: (AccessState, Instant) throws -> (AccessEvent, T)) async throws -> T {
        let manager = FileManager.default
        if !manager.fileExists(atPath: data.dataDir + "/data.mdb"), let entries = try? manager.contentsOfDirectory(atPath: data.dataDir),
            !entries.isEmpty
        {
            throw CommandError("\(data.dataDir) is not a data directory (it has files but no data.mdb)")
        }
        try FileManager.default.createDirectory(atPath: data.dataDir, withIntermediateDirectories: true)
        let opened: Result<LMDBJournal, JournalError> = Result { () throws(JournalError) -> LMDBJournal in
            try LMDBJournal(directory: data.dataDir, configuration: .init(mapSize: 1 << 34))
        }
        if case .failure(let error) = opened, error.code == .locked {
            throw CommandError("the journal in \(data.dataDir) is locked by another process (a running server, or another almanac command); with a server running, go through it: add --server <its URL> (with an admin token in ALMANAC_TOKEN once it has tokens)")
        }
        let journal = try opened.get()
        defer { journal.close() }
        let state = try state(of: journal)
        let (event, result) = try decide(state, Instant(Date()))
        let request = AppendRequest(
            streamID: AccessEvent.streamID, expectedVersion: state.version == 0 ? .noStream : .exactly(state.version),
            events: [AccessEventCodec.encode(event)]
        )
        _ = try await journal.append([request])[0].get()
        return result
    }
}

/// One request to a running server's API, authenticated by `ALMANAC_TOKEN`.
enum ServerCall {
    static func send(_ method: HTTPMethod, _ server: String, _ path: String, body: [String: String]?, reason: String?) async throws -> [String: Any] {
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token = ProcessInfo.processInfo.environment["ALMANAC_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            guard token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw CommandError("ALMANAC_TOKEN holds characters a token cannot have")
            }
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let reason { request.headers.add(name: "Almanac-Reason", value: reason) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            // The client's errors can quote the request's headers; say what failed without them.
            throw CommandError("cannot reach \(base): \(type(of: error))")
        }
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        guard (200..<300).contains(Int(response.status.code)) else {
            var detail = object["detail"] as? String ?? String(buffer: bytes)
            if response.status.code == 401 {
                detail += " (set ALMANAC_TOKEN to an admin token; with no token issued yet on a server started with --require-auth, stop it and run almanac tokens create --data-dir)"
            }
            throw CommandError("the server answered \(response.status.code): \(detail)")
        }
        return object
    }
}

/// A role as the command line takes it.
enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case viewer, `operator`, admin
}
