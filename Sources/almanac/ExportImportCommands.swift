import ArgumentParser
import Foundation
import Audit
import Cluster
import Logging
import Journal
import PostgresJournal
import Scheduling
import Server

/// `almanac export`: the journal as JSON Lines.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the journal as JSON Lines: one event per line, its envelope, raw payload and decoded form.",
        discussion: "Each line has position, streamId, version, type, schemaVersion, recordedAtMicros, checksum, payload (base64: what `almanac import` reads) and event (the decoded event as GET /v1/events shows it). The last line, {\"end\":{\"from\":…,\"lastPosition\":…,\"events\":…}}, lets an import tell a whole file from one cut short."
    )

    @OptionGroup var data: DataDirectoryOptions

    @OptionGroup var shared: SharedJournalOptions

    @Option(parsing: .unconditional, help: "Start after this position (0: from the beginning).")
    var from: UInt64 = 0

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func run() async throws {
        let journal: any Journal
        let close: () -> Void
        if let postgres = try await shared.openPostgres() {
            (journal, close) = (postgres, { postgres.close() })
        } else {
            let lmdb = try data.openJournal()
            (journal, close) = (lmdb, { lmdb.close() })
        }
        defer { close() }
        let sink: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil) else {
                throw CommandError("cannot create \(output)")
            }
            sink = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        } else {
            sink = FileHandle.standardOutput
        }
        defer { if output != nil { try? sink.close() } }
        var buffer: [UInt8] = []
        var progress = Progress("export")
        let head = try await journal.head()
        guard from <= head else { throw CommandError("--from \(from) is beyond the journal's head (\(head))") }
        var position = from
        while position < head {
            let batch = try await journal.read(after: position, limit: 4096).filter { $0.position <= head }
            if batch.isEmpty { break }
            for record in batch {
                buffer.append(contentsOf: """
                    {"position":\(record.position),"streamId":\(jsonString(record.streamID.rawValue)),\
                    "version":\(record.streamVersion),"type":\(jsonString(record.type)),\
                    "schemaVersion":\(record.schemaVersion),"recordedAtMicros":\(record.recordedAt),\
                    "checksum":\(record.checksum),"payload":"\(Data(record.payload).base64EncodedString())","event":
                    """.utf8)
                buffer.append(contentsOf: Representation.eventJSON(record))
                buffer.append(contentsOf: "}\n".utf8)
                position = record.position
            }
            sink.write(Data(buffer))
            buffer.removeAll(keepingCapacity: true)
            progress.update(position, of: head)
        }
        progress.finish()
        // The end line: an import can tell a whole file from one cut short.
        sink.write(Data("{\"end\":{\"from\":\(from),\"lastPosition\":\(position),\"events\":\(position - from)}}\n".utf8))
        if output != nil { try sink.synchronize() }
    }
}

/// `almanac import`: builds a new journal from an export.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Build a new journal from a JSON Lines export (the target must be empty or absent).",
        discussion: "Events keep their streams, versions, types, schema versions, instants and payloads; positions are assigned again from 1 and must match the file's, so the file must be a whole export. The journal is built beside the target and moved in only once every line is checked: its fields, its position and stream version, its checksum (the rebuilt chain must give the checksum the export recorded, so an altered line is found), and the audit's rules. `almanac audit` on the result gives the same digest as on the source."
    )

    @Argument(help: "The export file (JSON Lines).")
    var file: String

    @Option(help: "The new journal's directory: absent or empty.")
    var dataDir: String = ProcessInfo.processInfo.environment["ALMANAC_DATA_DIR"] ?? "./data"

    @Option(help: "The new journal's capacity (LMDB map size), e.g. 16GiB.")
    var mapSize: String = "16GiB"

    @Option(help: "Import into a cluster's PostgreSQL journal instead (a postgres:// URL); its table must be absent or empty.")
    var journal: String = "lmdb"

    @Option(help: "The PostgreSQL journal's table.")
    var journalTable: String = "almanac_events"

    @Flag(help: "Import even if the audit's rules find problems in the events (they are listed).")
    var acceptAuditFindings = false

    func run() async throws {
        if journal != "lmdb" { return try await importIntoPostgres() }
        guard let mapBytes = ByteSize.parse(mapSize) else { throw ValidationError("--map-size \"\(mapSize)\" is not a size") }
        let target = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CommandError("\(target) exists and is not a directory; import builds a new journal in an empty or absent directory")
        }
        if FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CommandError("\(file) is a directory, not an export file")
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: target), !entries.isEmpty {
            let named = entries.sorted().prefix(3).joined(separator: ", ")
            throw CommandError("\(target) is not empty (it holds \(named)\(entries.count > 3 ? ", …" : "")); import builds a new journal in an empty or absent directory")
        }
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { throw CommandError("cannot read \(file): \(String(cString: strerror(errno)))") }
        let input = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.uint64Value ?? 0
        // Built in a sibling directory and moved in whole: a failed import leaves nothing behind.
        let createdTarget = !FileManager.default.fileExists(atPath: target)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let staging = "\(target).import-\(fileStamp()).partial"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            let built = try LMDBJournal(directory: staging, configuration: .init(mapSize: mapBytes))
            let recorded: Recorded
            do {
                recorded = try await Self.build(from: input, size: size, into: built)
                built.close()
            } catch {
                built.close()
                throw error
            }
            try verify(staging, against: recorded)
            try? FileManager.default.removeItem(atPath: staging + "/lock.mdb")
            do {
                try LMDBJournal.adoptDataFile(from: staging, into: target)
            } catch let error as JournalError where error.code == .locked {
                throw CommandError("a server holds \(target); stop it first (nothing was changed)")
            }
            try? FileManager.default.removeItem(atPath: staging)
            syncDirectory(target)
            output("imported \(recorded.count) events into \(target)\n")
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            if createdTarget { try? FileManager.default.removeItem(atPath: target) }
            throw error
        }
    }

    /// What the file said of each event, by position: its line and the checksum exported.
    private struct Recorded {
        var lines: [Int] = []
        var checksums: [UInt32] = []
        var count: Int { lines.count }
    }

    /// Compares every rebuilt record's checksum with the exported one, and audits the rules.
    private func verify(_ staging: String, against recorded: Recorded) throws {
        // The checksums chain, so an altered line changes every one after it: the first
        // mismatch is the altered line.
        var altered: String?
        let (_, problems) = try auditStaged(staging) { record in
            let index = Int(record.position) - 1
            if altered == nil, index < recorded.count, record.checksum != recorded.checksums[index] {
                altered = "line \(recorded.lines[index]) (position \(record.position)): its content does not give the checksum the export recorded (\(recorded.checksums[index])): the line was altered or damaged"
            }
        }
        if let altered {
            throw CommandError("the file does not match the journal it was exported from; nothing was imported:\n  \(altered)")
        }
        guard problems.isEmpty || acceptAuditFindings else {
            throw CommandError("the events do not audit clean; nothing was imported (--accept-audit-findings imports them anyway):\n  " + problems.prefix(20).joined(separator: "\n  "))
        }
        for problem in problems.prefix(20) { FileHandle.standardError.write(Data("audit: \(problem)\n".utf8)) }
    }

    /// Imports into an absent or empty PostgreSQL table: appends every event, reads them all
    /// back checking the chain, each checksum against the export's, and the audit's rules. On
    /// any failure the table is dropped again, so nothing half-imported is left.
    private func importIntoPostgres() async throws {
        let settings: PostgresJournal.Configuration
        do {
            settings = try PostgresJournal.Configuration(url: journal, table: journalTable, clock: ContinuousClock())
        } catch {
            throw ValidationError("--journal must be lmdb or a postgres:// URL: \(error)")
        }
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { throw CommandError("cannot read \(file): \(String(cString: strerror(errno)))") }
        let input = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.uint64Value ?? 0
        let members = try await ShardLeases.liveMembers(configuration: settings, logger: Logger(label: "almanac.import"))
        guard members == 0 else {
            throw CommandError("\(members) node(s) of a cluster run on the table \(journalTable): stop them first (they would act on events not checked yet)")
        }
        let target = try await PostgresJournal(configuration: settings)
        defer { target.close() }
        guard try await target.head() == 0 else {
            throw CommandError("the table \(journalTable) already holds events; import builds a new journal in an absent or empty table")
        }
        do {
            let recorded = try await Self.build(from: input, size: size, into: target)
            var verifier = ChainVerifier()
            var auditor = Auditor(runRetention: 20)
            var altered: String?
            try await forEachRecord(in: target, progress: "check") { record in
                verifier.check(record)
                auditor.apply(record)
                let index = Int(record.position) - 1
                if altered == nil, index < recorded.count, record.checksum != recorded.checksums[index] {
                    altered = "line \(recorded.lines[index]) (position \(record.position)): its content does not give the checksum the export recorded (\(recorded.checksums[index])): the line was altered or damaged"
                }
            }
            if let altered {
                throw CommandError("the file does not match the journal it was exported from; nothing was imported:\n  \(altered)")
            }
            let problems = verifier.report.problems.map(\.description) + auditor.findings.map(\.description)
            guard problems.isEmpty || acceptAuditFindings else {
                throw CommandError("the events do not audit clean; nothing was imported (--accept-audit-findings imports them anyway):\n  " + problems.prefix(20).joined(separator: "\n  "))
            }
            for problem in problems.prefix(20) { FileHandle.standardError.write(Data("audit: \(problem)\n".utf8)) }
            output("imported \(recorded.count) events into the table \(journalTable)\n")
        } catch {
            do {
                try await target.dropTable()
            } catch {
                FileHandle.standardError.write(Data("import: the table \(journalTable) could not be dropped again; drop it by hand (\(error))\n".utf8))
            }
            throw error
        }
    }

    /// Appends every event of the export to `journal`, a new and empty one.
    private static func build(from input: FileHandle, size: UInt64, into journal: any Journal) async throws -> Recorded {
        var pending: [(line: Int, event: ExportedEvent)] = []
        var recorded = Recorded()
        var progress = Progress("import", unit: "bytes")
        defer { progress.finish() }

        func flush() async throws {
            guard !pending.isEmpty else { return }
            let results = await journal.append(pending.map(\.event.request))
            for ((line, event), result) in zip(pending, results) {
                let appended: AppendResult
                switch result {
                case .success(let result): appended = result
                case .failure(let error) where error.code == .wrongExpectedVersion:
                    throw CommandError("line \(line): stream \(event.request.streamID) does not reach this version here (\(error.message)): a line before it is missing, repeated or out of order")
                case .failure(let error):
                    throw CommandError("line \(line): \(error.message)")
                }
                guard appended.lastPosition == event.position else {
                    throw CommandError("line \(line): position \(event.position), but it is event \(appended.lastPosition) of the file: a line before it is missing, repeated or out of order")
                }
                recorded.lines.append(line)
                recorded.checksums.append(event.checksum)
            }
            pending.removeAll(keepingCapacity: true)
        }

        var lineNumber = 0
        var read: UInt64 = 0
        var buffer: [UInt8] = []
        var end: (line: Int, last: UInt64, events: UInt64)?
        let endPrefix = Array(#"{"end":"#.utf8)
        while true {
            let chunk: Data
            do {
                chunk = try input.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw CommandError("cannot read the export: \(error.localizedDescription)")
            }
            read += UInt64(chunk.count)
            buffer.append(contentsOf: chunk)
            var lineStart = 0
            while let newline = buffer[lineStart...].firstIndex(of: 0x0A) {
                lineNumber += 1
                if let end {
                    throw CommandError("line \(lineNumber): the file goes on after its end line (line \(end.line))")
                }
                if buffer[lineStart..<newline].starts(with: endPrefix) {
                    end = try Self.endLine(Data(buffer[lineStart..<newline]), number: lineNumber)
                } else if newline > lineStart {
                    let event = try ExportedEvent(line: Data(buffer[lineStart..<newline]), number: lineNumber)
                    pending.append((lineNumber, event))
                    if pending.count >= 2048 { try await flush() }
                }
                lineStart = newline + 1
            }
            buffer.removeFirst(lineStart)
            progress.update(read, of: size)
            if chunk.isEmpty { break }
        }
        guard buffer.isEmpty else { throw CommandError("the file ends in the middle of line \(lineNumber + 1)") }
        try await flush()
        guard let end else {
            throw CommandError("the file has no end line ({\"end\":…}, the last line `almanac export` writes): it was cut short")
        }
        guard end.last == UInt64(recorded.count), end.events == UInt64(recorded.count) else {
            throw CommandError("line \(end.line): the end line says the export held \(end.events) events through position \(end.last), but the file holds \(recorded.count): lines are missing")
        }
        return recorded
    }

    /// The export's end line: `{"end":{"from":F,"lastPosition":L,"events":N}}`.
    private static func endLine(_ line: Data, number: Int) throws -> (line: Int, last: UInt64, events: UInt64) {
        struct End: Decodable {
            struct Body: Decodable {
                let from: UInt64
                let lastPosition: UInt64
                let events: UInt64
            }
            let end: Body
        }
        guard let end = try? JSONDecoder().decode(End.self, from: line) else {
            throw CommandError("line \(number) is not a valid end line: {\"end\":{\"from\":0,\"lastPosition\":N,\"events\":N}}")
        }
        guard end.end.from == 0 else {
            throw CommandError("line \(number): the export starts after position \(end.end.from); import needs a whole export (from 0)")
        }
        return (number, end.end.lastPosition, end.end.events)
    }
}

/// One line of an export, checked field by field.
struct ExportedEvent {
    /// A field of a line that is missing or wrong.
    private struct FieldProblem: Error {
        let field: String
        let problem: String
    }

    /// The envelope fields an import needs (the decoded `event` is for readers, not imports).
    private struct Envelope: Decodable {
        enum Key: String, CodingKey { case position, streamId, version, type, schemaVersion, recordedAtMicros, checksum, payload }

        let position: Int64
        let streamId: String
        let version: Int64
        let type: String
        let schemaVersion: Int64
        let recordedAtMicros: Int64
        let checksum: Int64
        let payload: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            func field<T: Decodable>(_ key: Key) throws -> T {
                do {
                    return try container.decode(T.self, forKey: key)
                } catch DecodingError.keyNotFound {
                    throw FieldProblem(field: key.rawValue, problem: "is missing")
                } catch {
                    throw FieldProblem(field: key.rawValue, problem: T.self == String.self ? "must be a string" : "must be a whole number")
                }
            }
            position = try field(.position)
            streamId = try field(.streamId)
            version = try field(.version)
            type = try field(.type)
            schemaVersion = try field(.schemaVersion)
            recordedAtMicros = try field(.recordedAtMicros)
            checksum = try field(.checksum)
            payload = try field(.payload)
        }
    }

    let position: UInt64
    /// The record's checksum in the exported journal (the chain over every record up to it).
    let checksum: UInt32
    let request: AppendRequest

    init(line: Data, number: Int) throws {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: line)
        } catch let problem as FieldProblem {
            throw CommandError("line \(number): \"\(problem.field)\" \(problem.problem)")
        } catch {
            throw CommandError("line \(number) is not a JSON object")
        }
        func check(_ value: Int64, _ field: String, in range: ClosedRange<Int64>) throws {
            guard range.contains(value) else {
                throw CommandError("line \(number): \"\(field)\" must be in \(range.lowerBound)...\(range.upperBound), not \(value)")
            }
        }
        try check(envelope.position, "position", in: 1...Int64.max)
        try check(envelope.version, "version", in: 1...Int64.max)
        try check(envelope.schemaVersion, "schemaVersion", in: 1...Int64(UInt16.max))
        try check(envelope.checksum, "checksum", in: 0...Int64(UInt32.max))
        guard let payload = Data(base64Encoded: envelope.payload) else {
            throw CommandError("line \(number): \"payload\" is not base64")
        }
        position = UInt64(envelope.position)
        checksum = UInt32(envelope.checksum)
        request = AppendRequest(
            streamID: StreamID(envelope.streamId),
            expectedVersion: envelope.version == 1 ? .noStream : .exactly(UInt64(envelope.version - 1)),
            events: [ProposedEvent(
                type: envelope.type, schemaVersion: UInt16(envelope.schemaVersion),
                recordedAt: envelope.recordedAtMicros, payload: Array(payload)
            )]
        )
    }
}
