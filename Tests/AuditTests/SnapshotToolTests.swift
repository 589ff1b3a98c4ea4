import AlmanacTesting
import Engine
import Foundation
import Journal
import Projections
import Scheduling
import Synchronization
import Testing

/// `almanac snapshot`, `restore`, `export` and `import` as an operator runs them.
@Suite("Offline tools: snapshot, restore, export, import", .serialized)
struct SnapshotToolTests {
    private static func almanac(_ arguments: [String]) async throws -> (lines: [String], status: Int32) {
        try await ChildProcess(executable: try BuiltProduct.path("almanac"), arguments: arguments).waitForExit()
    }

    /// Runs `almanac` with its standard error among the lines.
    private static func almanacWithErrors(_ arguments: [String]) async throws -> (lines: [String], status: Int32) {
        try await ChildProcess(executable: try BuiltProduct.path("almanac"), arguments: arguments, collectingStandardError: true).waitForExit()
    }

    final class StopFlag: Sendable {
        private let flag = Atomic(false)
        var isSet: Bool { flag.load(ordering: .relaxed) }
        func set() { flag.store(true, ordering: .relaxed) }
    }

    /// Appends task commands to the journal until `stop` is set; returns the count.
    private static func load(_ journal: LMDBJournal, stop: StopFlag) async throws -> Int {
        let clock = ManualClock(now: JournalHistory.start)
        let store = ProjectionStore(journal: journal)
        let commands = CommandService(journal: journal, store: store, clock: clock)
        var count = 0
        while !stop.isSet {
            clock.advance(by: .milliseconds(10))
            let id = TaskID("load-\(count % 500)")
            if count < 500 {
                try await commands.execute(TaskCommand(taskID: id, actor: "load", action: .createTask(TaskDefinition(
                    name: "load", schedule: Schedule(.interval(every: .seconds(60), anchor: JournalHistory.start)),
                    action: WebhookAction(url: "http://127.0.0.1:9/")))))
            } else {
                try await commands.execute(TaskCommand(taskID: id, actor: "load", action: .triggerTask(trigger: "t\(count)")))
            }
            count += 1
        }
        return count
    }

    @Test(.timeLimit(.minutes(3)))
    func aSnapshotTakenUnderLoadRestoresToTheStateAtItsHead() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-snapshot") { base in
            let live = base + "/live"
            let journal = try LMDBJournal(directory: live, configuration: .init(mapSize: 256 << 20))
            let stop = StopFlag()
            let writer = Task { try await Self.load(journal, stop: stop) }
            let clock = SystemClock()
            while try journal.currentHead() < 2000 { try await clock.sleep(until: clock.now() + .milliseconds(20)) }
            let snapshot = try await Self.almanac(["snapshot", "--data-dir", live, base + "/snap"])
            stop.set()
            let appended = try await writer.value
            let finalHead = try journal.currentHead()
            journal.close()
            #expect(snapshot.status == 0, "\(snapshot.lines)")

            let manifestData = try Data(contentsOf: URL(fileURLWithPath: base + "/snap/manifest.json"))
            let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
            let head = try #require(manifest["headPosition"] as? Int)
            #expect(head >= 2000 && head <= Int(finalHead))
            #expect(appended > head / 2, "the load kept appending")
            // The state of the live journal at the snapshot's head, replayed afterwards:
            let atHead = try await Self.almanac(["replay", "--data-dir", live, "--until", "\(head)", "--digest", "--format", "json"])
            #expect(atHead.lines == ["{\"position\":\(head),\"digest\":\"\(manifest["digest"] as? String ?? "?")\"}"])

            let restored = base + "/restored"
            let restore = try await Self.almanac(["restore", base + "/snap", "--data-dir", restored])
            #expect(restore.status == 0, "\(restore.lines)")
            let audit = try await Self.almanac(["audit", "--data-dir", restored, "--format", "json"])
            #expect(audit.status == 0)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(audit.lines.joined().utf8)) as? [String: Any])
            #expect(report["clean"] as? Bool == true)
            #expect(report["digest"] as? String == manifest["digest"] as? String)
            #expect(report["headPosition"] as? Int == head)

            // Restoring over an existing directory keeps it aside. The directory is swapped,
            // not moved away and back: a server starting meanwhile never finds it missing.
            let watching = StopFlag(), missing = Atomic(0)
            let watcher = Thread {
                while !watching.isSet { if access(live, F_OK) != 0 { missing.add(1, ordering: .relaxed) } }
            }
            watcher.start()
            let again = try await Self.almanac(["restore", base + "/snap", "--data-dir", live])
            watching.set()
            #expect(again.status == 0)
            #expect(missing.load(ordering: .relaxed) == 0, "the data directory was missing during the restore")
            // Restoring again at once keeps that one too, under its own name.
            let third = try await Self.almanac(["restore", base + "/snap", "--data-dir", live])
            #expect(third.status == 0)
            let keptAll = try FileManager.default.contentsOfDirectory(atPath: base).filter { $0.hasPrefix("live.before-restore-") }.sorted()
            #expect(keptAll.count == 2, "\(keptAll)")
            #expect(third.lines.contains { $0.hasSuffix(keptAll.last!) || $0.hasSuffix(keptAll.first!) })
            let restoredHead = try await Self.almanac(["replay", "--data-dir", live, "--digest"])
            #expect(restoredHead.lines.first == "position \(head)")
            // One keeps the journal as it was before the first restore, the other the snapshot.
            var keptHeads: [String] = []
            for kept in keptAll { keptHeads.append(try await Self.almanac(["replay", "--data-dir", base + "/" + kept, "--digest"]).lines.first ?? "") }
            #expect(keptHeads.sorted() == ["position \(finalHead)", "position \(head)"].sorted(), "\(keptHeads)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aDamagedSnapshotIsRefusedAndTheDataDirectoryLeftAlone() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-snapshot-bad") { base in
            let history = try await JournalHistory.write(to: base + "/live")
            await #expect(try Self.almanac(["snapshot", "--data-dir", base + "/live", base + "/snap"]).status == 0)
            let original = try Data(contentsOf: URL(fileURLWithPath: base + "/live/data.mdb"))

            func damaged(_ name: String, _ change: (inout Data) -> Void) throws -> String {
                let path = base + "/" + name
                try FileManager.default.copyItem(atPath: base + "/snap", toPath: path)
                var data = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
                change(&data)
                try data.write(to: URL(fileURLWithPath: path + "/data.mdb"))
                return path
            }
            let truncated = try damaged("truncated") { $0 = $0.prefix($0.count / 2) }
            let flipped = try damaged("flipped") { $0[$0.count / 3] ^= 0x40 }
            for snapshot in [truncated, flipped] {
                let restore = try await Self.almanac(["restore", snapshot, "--data-dir", base + "/live"])
                #expect(restore.status != 0)
                #expect(try Data(contentsOf: URL(fileURLWithPath: base + "/live/data.mdb")) == original)
            }
            // A forged manifest (checksum recomputed for a damaged file) is still refused: the audit finds it.
            let forged = try damaged("forged") { data in
                let marker = Array(JournalHistory.marker.utf8)
                var index = 0
                while index + marker.count <= data.count {
                    if data[index] == marker[0], Array(data[index..<(index + marker.count)]) == marker { data[index + 7] ^= 0x01 }
                    index += 1
                }
            }
            let sums = try await Self.almanac(["snapshot", "--data-dir", forged, base + "/recount"])  // recomputes size and CRC32C
            if sums.status == 0 {
                let manifest = try Data(contentsOf: URL(fileURLWithPath: base + "/recount/manifest.json"))
                try manifest.write(to: URL(fileURLWithPath: forged + "/manifest.json"))
                try FileManager.default.removeItem(atPath: forged + "/data.mdb")
                try FileManager.default.copyItem(atPath: base + "/recount/data.mdb", toPath: forged + "/data.mdb")
            }
            let restore = try await Self.almanac(["restore", forged, "--data-dir", base + "/live"])
            #expect(restore.status != 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: base + "/live/data.mdb")) == original)
            #expect(try FileManager.default.contentsOfDirectory(atPath: base).allSatisfy { !$0.contains("before-restore") && !$0.hasSuffix(".partial") })
            _ = history
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func exportThenImportGivesTheSameDigest() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-export") { base in
            let history = try await JournalHistory.write(to: base + "/live")
            let export = try await Self.almanac(["export", "--data-dir", base + "/live", "-o", base + "/events.jsonl"])
            #expect(export.status == 0)
            let lines = try String(contentsOfFile: base + "/events.jsonl", encoding: .utf8).split(separator: "\n")
            #expect(lines.count == Int(history.head) + 1, "one line per event, and the end line")
            let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(first["type"] as? String == "TaskCreated")
            #expect((first["event"] as? [String: Any])?["actor"] as? String == "ops")

            let imported = try await Self.almanac(["import", base + "/events.jsonl", "--data-dir", base + "/copy"])
            #expect(imported.status == 0, "\(imported.lines)")
            let audit = try await Self.almanac(["audit", "--data-dir", base + "/copy"])
            #expect(audit.status == 0)
            #expect(audit.lines.contains("digest        \(history.finalDigest)"))
            await #expect(try Self.almanac(["import", base + "/events.jsonl", "--data-dir", base + "/copy"]).status != 0)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aFailedImportLeavesNothingBehindAndNamesTheLineAndField() async throws {
        try await TemporaryDirectory.with(prefix: "almanac-import-bad") { base in
            _ = try await JournalHistory.write(to: base + "/live")
            await #expect(try Self.almanac(["export", "--data-dir", base + "/live", "-o", base + "/events.jsonl"]).status == 0)
            let lines = try String(contentsOfFile: base + "/events.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.count > 100)

            /// Writes the export with line 50 (1-based) changed by `edit`, imports it into a new
            /// directory, and returns the result and what the parent directory holds afterwards.
            func importEdited(_ name: String, _ edit: (inout [String: Any]) -> Void) async throws -> (lines: [String], status: Int32, entries: [String]) {
                var edited = lines
                var object = try #require(try JSONSerialization.jsonObject(with: Data(edited[49].utf8)) as? [String: Any])
                edit(&object)
                edited[49] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
                let file = base + "/\(name).jsonl"
                try (edited.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let result = try await Self.almanacWithErrors(["import", file, "--data-dir", base + "/targets/\(name)"])
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: base + "/targets")) ?? []
                return (result.lines, result.status, entries)
            }

            for (name, edit, message): (String, (inout [String: Any]) -> Void, String) in [
                ("version-zero", { $0["version"] = 0 }, #"line 50: "version" must be in 1...9223372036854775807, not 0"#),
                ("position-zero", { $0["position"] = 0 }, #"line 50: "position" must be in 1..."#),
                ("schema-too-big", { $0["schemaVersion"] = 70_000 }, #"line 50: "schemaVersion" must be in 1...65535, not 70000"#),
                ("negative-version", { $0["version"] = -3 }, #"line 50: "version" must be in 1..."#),
                ("fractional-position", { $0["position"] = 50.5 }, #"line 50: "position" must be a whole number"#),
                ("text-type", { $0["type"] = 7 }, #"line 50: "type" must be a string"#),
                ("no-stream", { $0["streamId"] = nil }, #"line 50: "streamId" is missing"#),
                ("bad-payload", { $0["payload"] = "%%%" }, #"line 50: "payload" is not base64"#),
                ("out-of-order", { $0["position"] = 51 }, "line 50: position 51, but it is event 50 of the file"),
                ("no-checksum", { $0["checksum"] = nil }, #"line 50: "checksum" is missing"#),
                ("altered-payload", { object in
                    var payload = Data(base64Encoded: object["payload"] as! String)!
                    payload[payload.count - 1] ^= 0x01
                    object["payload"] = payload.base64EncodedString()
                }, "line 50 (position 50): its content does not give the checksum the export recorded"),
                ("altered-instant", { $0["recordedAtMicros"] = ($0["recordedAtMicros"] as! Int) + 1 }, "line 50 (position 50): its content does not give the checksum"),
                ("renamed-type", { $0["type"] = "Bogus" }, "line 50 (position 50): its content does not give the checksum"),
            ] {
                let result = try await importEdited(name, edit)
                #expect(result.status != 0, "\(name)")
                #expect(result.lines.contains { $0.contains(message) }, "\(name): \(result.lines)")
                // Neither the target nor a staging directory is left.
                #expect(result.entries.isEmpty, "\(name): \(result.entries)")
            }

            // A file cut short at a line boundary: the end line is missing, or says more events.
            #expect(lines.last?.hasPrefix(#"{"end":{"from":0,"lastPosition":"#) == true)
            for (name, kept, message) in [
                ("no-end", Array(lines.dropLast()), "has no end line"),
                ("lost-last-event", Array(lines.dropLast(2)) + [lines.last!], "lines are missing"),
            ] {
                let file = base + "/\(name).jsonl"
                try (kept.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let result = try await Self.almanacWithErrors(["import", file, "--data-dir", base + "/targets/\(name)"])
                #expect(result.status != 0, "\(name)")
                #expect(result.lines.contains { $0.contains(message) }, "\(name): \(result.lines)")
                #expect(!FileManager.default.fileExists(atPath: base + "/targets/\(name)"))
            }

            // An existing empty target stays, empty; a whole file then imports into it.
            try FileManager.default.createDirectory(atPath: base + "/targets/empty", withIntermediateDirectories: true)
            let truncated = base + "/truncated.jsonl"
            try (lines.prefix(80).joined(separator: "\n") + "\n" + lines[80].prefix(20)).write(toFile: truncated, atomically: true, encoding: .utf8)
            let refused = try await Self.almanacWithErrors(["import", truncated, "--data-dir", base + "/targets/empty"])
            #expect(refused.status != 0)
            #expect(refused.lines.contains { $0.contains("ends in the middle of line 81") })
            #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/targets") == ["empty"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/targets/empty") == [])
            let whole = try await Self.almanac(["import", base + "/events.jsonl", "--data-dir", base + "/targets/empty"])
            #expect(whole.status == 0, "\(whole.lines)")
            await #expect(try Self.almanac(["audit", "--data-dir", base + "/targets/empty"]).status == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/targets") == ["empty"])

            // A directory holding anything else is refused; so is a file that is not there.
            try FileManager.default.createDirectory(atPath: base + "/targets/notes", withIntermediateDirectories: true)
            try "keep".write(toFile: base + "/targets/notes/notes.txt", atomically: true, encoding: .utf8)
            let occupied = try await Self.almanacWithErrors(["import", base + "/events.jsonl", "--data-dir", base + "/targets/notes"])
            #expect(occupied.status != 0)
            #expect(occupied.lines.contains { $0.contains("is not empty (it holds notes.txt)") }, "\(occupied.lines)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/targets/notes") == ["notes.txt"])
            let missing = try await Self.almanacWithErrors(["import", base + "/no-such.jsonl", "--data-dir", base + "/targets/other"])
            #expect(missing.lines.contains { $0.contains("cannot read \(base)/no-such.jsonl: No such file or directory") }, "\(missing.lines)")
        }
    }
}
