import AlmanacTesting
import AsyncHTTPClient
import Engine
import Foundation
import NIOHTTP1
import Scheduling
import Testing

/// Secrets as a user meets them: the built server creates its key file, calls a real receiver
/// with the secret header and the task's own signature, and no secret can be found in the
/// data directory, the server's log, exports, history, run listings or a snapshot. A missing
/// key stops the start; a new key leaves the old secrets failing with their reason until they
/// are entered again.
@Suite struct SecretsLiveTests {
    @Test(.timeLimit(.minutes(3)))
    func noSecretIsRecoverableWithoutTheKey() async throws {
        let token = "Bearer live-\(UUID().uuidString)"
        var generator = SystemRandomNumberGenerator()
        let signing = WebhookSigner.generateSecret(using: &generator)
        // The receiver echoes the secret header back, as a careless receiver might.
        let receiver = try await WebhookReceiver.start { _ in .init(status: 200, body: "got \(token)") }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        try await TemporaryDirectory.with(prefix: "almanac-secrets") { directory in
            let data = directory + "/data"
            let server = try await LiveServer.start(dataDirectory: data, client: client, logLevel: "trace", collectingLogs: true)
            let keyPath = data + "/secrets.key"
            let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let body = #"""
                {"name":"secret","schedule":{"every":"1s"},"action":{"url":"\#(receiver.url("/secret"))","body":"{}",
                 "headers":{"X-Team":"billing","Authorization":{"value":"\#(token)","secret":true}},"signingSecret":"\#(signing)"}}
                """#
            let (status, created) = try await server.send(.POST, "/v1/tasks", json: body)
            #expect(status == 201, "\(String(describing: created))")
            let id = try #require((created as? [String: Any])?["id"] as? String)
            #expect(await receiver.waitForRequests(2, timeout: 20))
            let signer = try WebhookSigner(secret: signing)
            for call in receiver.received.prefix(2) {
                #expect(call.header("Authorization") == token)
                let timestamp = try #require(call.header("webhook-timestamp").flatMap { Int64($0) })
                #expect(signer.verify(id: call.header("webhook-id") ?? "", timestamp: timestamp, body: Array(call.body.utf8),
                                      header: call.header("webhook-signature") ?? ""))
            }
            var seen: [String] = []
            for path in ["/v1/tasks/\(id)", "/v1/tasks/\(id)/runs", "/v1/tasks/\(id)/events", "/v1/events", "/v1/runs"] {
                let (_, document) = try await server.send(.GET, path)
                seen.append(String(decoding: try JSONSerialization.data(withJSONObject: document ?? [:]), as: UTF8.self))
            }
            #expect(seen[1].contains("got [secret]"), "\(seen[1].prefix(300))")
            await #expect(server.stop() == 0)
            let logs = server.process.lines.joined(separator: "\n")
            #expect(logs.contains("secrets key created"), "\(logs.prefix(500))")

            // Everything a user can read without the key.
            let almanac = try BuiltProduct.path("almanac")
            let run = { (arguments: [String]) async throws -> String in
                let result = try await ChildProcess(executable: almanac, arguments: arguments, collectingStandardError: true).waitForExit()
                #expect(result.status == 0, "\(arguments): \(result.lines)")
                return result.lines.joined(separator: "\n")
            }
            seen.append(logs)
            seen.append(try await run(["export", "--data-dir", data]))
            seen.append(try await run(["history", id, "--data-dir", data, "--format", "json"]))
            seen.append(try await run(["runs", id, "--data-dir", data, "--format", "json"]))
            seen.append(try await run(["snapshot", "--data-dir", data, directory + "/snapshot"]))
            #expect(seen[seen.count - 4].contains("\"Authorization\":{\"secret\":true}"), "the export shows the header as a secret")
            var files: [String] = []
            for root in [data, directory + "/snapshot"] {
                for name in try FileManager.default.contentsOfDirectory(atPath: root) where name != "secrets.key" {
                    files.append(root + "/" + name)
                    seen.append(String(decoding: try Data(contentsOf: URL(fileURLWithPath: root + "/" + name)), as: UTF8.self))
                }
            }
            #expect(files.contains { $0.hasSuffix("data/data.mdb") } && files.contains { $0.contains("snapshot/") }, "\(files)")
            // The scan reads real bytes: the sealed values themselves are there.
            #expect(seen.contains { $0.contains("sealed:v1:") }, "no sealed value found in the data files")
            let secretParts = [String(token.dropFirst(7)), String(signing.dropFirst(6))]
            for (index, text) in seen.enumerated() {
                for part in secretParts { #expect(!text.contains(part), "secret found in source \(index)") }
            }

            // Without its key the server refuses to start, rather than strand the secrets.
            try FileManager.default.moveItem(atPath: keyPath, toPath: directory + "/kept.key")
            let refused = try await ChildProcess(
                executable: almanac, arguments: ["serve", "--data-dir", data, "--port", "0", "--log-format", "text"],
                collectingStandardError: true
            ).waitForExit()
            #expect(refused.status != 0)
            #expect(refused.lines.joined().contains("--new-secrets-key"), "\(refused.lines)")
            #expect(!FileManager.default.fileExists(atPath: keyPath))

            // With a new key it starts; the old secrets fail their calls with the reason, until entered again.
            let fresh = try await LiveServer.start(dataDirectory: data, client: client, extra: ["--new-secrets-key"], collectingLogs: true)
            let before = receiver.received.count
            var failure: String?
            for _ in 0..<100 where failure == nil {
                let (_, runs) = try await fresh.send(.GET, "/v1/tasks/\(id)/runs")
                let items = (runs as? [String: Any])?["items"] as? [[String: Any]] ?? []
                failure = items.compactMap { $0["error"] as? String }.first { $0.contains("sealed with key") }
                if failure == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(failure?.contains("enter the secret again") == true, "\(String(describing: failure))")
            #expect(receiver.received.count == before, "calls without their secrets were made")
            // No If-Match: the failing runs raise the task's version every second.
            let reentered = try await fresh.send(.PUT, "/v1/tasks/\(id)", json: body)
            #expect(reentered.status == 200, "\(String(describing: reentered.body))")
            let count = receiver.received.count
            #expect(await receiver.waitForRequests(count + 1, timeout: 15))
            #expect(receiver.received.last?.header("Authorization") == token)
            await #expect(fresh.stop() == 0)
            // At its start, the server named the task whose secrets the new key cannot open.
            let freshLogs = fresh.process.lines.joined(separator: "\n")
            #expect(freshLogs.contains("1 task(s) hold secrets sealed with another key") && freshLogs.contains(id), "\(freshLogs.prefix(800))")
        }
        try await receiver.stop()
        try await client.shutdown()
    }
}
