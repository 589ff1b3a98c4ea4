import AlmanacTesting
import Audit
import Foundation
import Journal
import LMDB
import Projections
import Scheduling
import Testing

/// `almanac audit` and `almanac replay` on a real journal written by the real engine, and on
/// copies of it damaged byte by byte and record by record.
@Suite("Offline tools: audit and replay", .serialized)
struct AuditToolTests {
    private static func almanac(_ arguments: [String]) async throws -> (lines: [String], status: Int32) {
        try await ChildProcess(executable: try BuiltProduct.path("almanac"), arguments: arguments).waitForExit()
    }

    /// Copies the journal directory (data.mdb only: lock files are per process).
    private static func copy(_ directory: String) throws -> String {
        let target = try TemporaryDirectory.create(prefix: "almanac-audit-copy")
        try FileManager.default.copyItem(atPath: directory + "/data.mdb", toPath: target + "/data.mdb")
        return target
    }

    @Test(.timeLimit(.minutes(3)))
    func aCleanJournalAuditsCleanAndReplayMatchesTheLiveStateAtEveryHundredthPosition() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-audit") { directory in
            let history = try await JournalHistory.write(to: directory)
            #expect(history.head > 500, "the history is too short to test much: \(history.head) events")
            #expect(history.digests.count >= 5)

            let audit = try await Self.almanac(["audit", "--data-dir", directory])
            #expect(audit.status == 0, "\(audit.lines.joined(separator: "\n"))")
            #expect(audit.lines.contains { $0.hasPrefix("clean:") })
            #expect(audit.lines.contains("digest        \(history.finalDigest)"))

            // Every recorded position (bounded: the history holds a few thousand events).
            let positions = history.digests.keys.sorted()
            #expect(positions.count <= 60)
            for position in positions.prefix(60) {
                let replay = try await Self.almanac(["replay", "--data-dir", directory, "--until", "\(position)", "--digest", "--format", "json"])
                #expect(replay.status == 0)
                #expect(replay.lines == ["{\"position\":\(position),\"digest\":\"\(history.digests[position]!)\"}"], "at \(position)")
            }
            let whole = try await Self.almanac(["replay", "--data-dir", directory, "--digest"])
            #expect(whole.lines == ["position \(history.head)", "digest   \(history.finalDigest)"])

            // `almanac runs` shows each record's error and skip reason, read from the events
            // that hold them (the run log keeps their positions).
            let runs = try await Self.almanac(["runs", "--data-dir", directory, "--format", "json", "--limit", "100000"])
            #expect(runs.status == 0)
            let records = runs.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(records.count == runs.lines.count && records.count > 20)
            #expect(records.contains { $0["outcome"] as? String == "skipped" && $0["skipReason"] as? String == "misfire" })
            #expect(records.contains { ($0["error"] as? String)?.isEmpty == false })
            #expect(records.filter { $0["outcome"] as? String == "failed" || $0["outcome"] as? String == "retrying" }.allSatisfy { $0["error"] is String })
            // Newest first; a shorter limit shows the first of the same list.
            let started = records.compactMap { $0["startedAt"] as? String }
            #expect(started.count == records.count && started == started.sorted(by: >))
            let five = try await Self.almanac(["runs", "--data-dir", directory, "--format", "json", "--limit", "5"])
            #expect(five.lines == Array(runs.lines.prefix(5)))
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func damageIsFoundAndNamed() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-audit-damage") { directory in
            let history = try await JournalHistory.write(to: directory)

            // One flipped byte (in every copy of the marker the file holds, live or stale page).
            let flipped = try Self.copy(directory)
            defer { try? FileManager.default.removeItem(atPath: flipped) }
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: flipped + "/data.mdb")))
            let marker = Array(JournalHistory.marker.utf8)
            var flips = 0
            var index = 0
            while index + marker.count <= bytes.count {
                if bytes[index] == marker[0], Array(bytes[index..<(index + marker.count)]) == marker {
                    bytes[index + 7] ^= 0x01
                    flips += 1
                    index += marker.count
                } else {
                    index += 1
                }
            }
            #expect(flips >= 1)
            try Data(bytes).write(to: URL(fileURLWithPath: flipped + "/data.mdb"))
            let audit = try await Self.almanac(["audit", "--data-dir", flipped])
            #expect(audit.status == 1)
            #expect(audit.lines.contains { $0.contains("position \(history.markerPosition)") && $0.contains("checksum") },
                    "\(audit.lines.joined(separator: "\n"))")

            // A removed record and two records swapped, written with LMDB directly.
            let removed = try Self.copy(directory)
            defer { try? FileManager.default.removeItem(atPath: removed) }
            let keys = try Self.editEvents(in: removed) { keys, txn, events in
                let victim = keys[keys.count / 2]
                try txn.delete(forKey: victim, in: events)
            }
            let victim = Self.position(keys[keys.count / 2])
            let removedAudit = try await Self.almanac(["audit", "--data-dir", removed])
            #expect(removedAudit.status == 1)
            #expect(removedAudit.lines.contains { $0.contains("missing") && $0.contains("\(victim)") },
                    "\(removedAudit.lines.joined(separator: "\n"))")

            let swapped = try Self.copy(directory)
            defer { try? FileManager.default.removeItem(atPath: swapped) }
            var swappedAt: UInt64 = 0
            _ = try Self.editEvents(in: swapped) { keys, txn, events in
                let first = keys[keys.count / 3]
                let second = keys[keys.count / 3 + 1]
                let a = try #require(try txn.value(forKey: first, in: events))
                let b = try #require(try txn.value(forKey: second, in: events))
                try txn.put(b, forKey: first, in: events)
                try txn.put(a, forKey: second, in: events)
                swappedAt = Self.position(first)
            }
            let swappedAudit = try await Self.almanac(["audit", "--data-dir", swapped])
            #expect(swappedAudit.status == 1)
            #expect(swappedAudit.lines.contains { $0.contains("position \(swappedAt)") }, "\(swappedAudit.lines.joined(separator: "\n"))")
        }
    }

    /// Runs `body` in a write transaction on the `events` database of the journal copy at
    /// `directory`, with the segment keys in order; returns the keys.
    private static func editEvents(
        in directory: String, _ body: ([[UInt8]], borrowing WriteTransaction, Database) throws -> Void
    ) throws -> [[UInt8]] {
        let environment = try Environment(path: directory, options: .init(mapSize: 64 << 20))
        defer { environment.close() }
        let events = try environment.openDatabase(named: "events", create: false)
        let keys: [[UInt8]] = try environment.withReadTransaction { txn in
            try txn.withCursor(in: events) { cursor in
                var keys: [[UInt8]] = []
                var entry = try cursor.first()
                while let (key, _) = entry {
                    keys.append(Array(key))
                    entry = try cursor.next()
                }
                return keys
            }
        }
        try environment.withWriteTransaction { txn in try body(keys, txn, events) }
        return keys
    }

    private static func position(_ key: [UInt8]) -> UInt64 { key.reduce(0) { $0 << 8 | UInt64($1) } }
}
