import ArgumentParser
import Foundation
import Journal
import Scheduling
import Server

/// `almanac export`: the journal as JSON Lines.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the journal as JSON Lines: one event per line, its envelope, raw payload and decoded form.",
        discussion: "Each line has position, streamId, version, type, schemaVersion, recordedAtMicros, checksum, payload (base64: what `almanac import` reads) and event (the decoded event as GET /v1/events shows it)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "Start after this position (0: from the beginning).")
    var from: UInt64 = 0

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func run() throws {
        let journal = try data.openJournal()
        defer { journal.close() }
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
        let head = try journal.currentHead()
        var position = from
        while position < head {
            let batch = try journal.readEvents(after: position, limit: 4096)
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
        if output != nil { try sink.synchronize() }
    }
}

/// `almanac import`: builds a new journal from an export.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Build a new journal from a JSON Lines export (the target must be empty or absent).",
        discussion: "Events keep their streams, versions, types, schema versions, instants and payloads; positions are assigned again from 1 and must match the file's, so the file must be a whole export. `almanac audit` on the result gives the same digest as on the source."
    )

    @Argument(help: "The export file (JSON Lines).")
    var file: String

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "The new journal's capacity (LMDB map size), e.g. 16GiB.")
    var mapSize: String = "16GiB"

    func run() async throws {
        guard let mapBytes = ByteSize.parse(mapSize) else { throw ValidationError("--map-size \"\(mapSize)\" is not a size") }
        let target = URL(fileURLWithPath: data.dataDir).standardizedFileURL.path
        if FileManager.default.fileExists(atPath: target + "/data.mdb") {
            throw CommandError("\(target) already holds a journal; import builds a new one only")
        }
        guard let input = FileHandle(forReadingAtPath: file) else { throw CommandError("cannot read \(file)") }
        // Built in a sibling directory and moved in whole: a failed import leaves nothing behind.
        let createdTarget = !FileManager.default.fileExists(atPath: target)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let staging = "\(target).import-\(fileStamp()).partial"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            let imported = try await Self.build(from: input, in: staging, mapBytes: mapBytes)
            try? FileManager.default.removeItem(atPath: staging + "/lock.mdb")
            do {
                try LMDBJournal.adoptDataFile(from: staging, into: target)
            } catch let error as JournalError where error.code == .locked {
                throw CommandError("a server holds \(target); stop it first (nothing was changed)")
            }
            try? FileManager.default.removeItem(atPath: staging)
            syncDirectory(target)
            output("imported \(imported) events into \(target)\n")
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            if createdTarget { try? FileManager.default.removeItem(atPath: target) }
            throw error
        }
    }

    /// Appends every event of the export to a new journal in `directory`; returns the head.
    private static func build(from input: FileHandle, in directory: String, mapBytes: Int) async throws -> UInt64 {
        let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: mapBytes))
        defer { journal.close() }
        var pending: [(position: UInt64, request: AppendRequest)] = []
        var lineNumber = 0
        var imported: UInt64 = 0

        func flush() async throws {
            guard !pending.isEmpty else { return }
            let results = await journal.append(pending.map(\.request))
            for (item, result) in zip(pending, results) {
                let appended = try result.get()
                guard appended.lastPosition == item.position else {
                    throw CommandError("the event at position \(item.position) landed at \(appended.lastPosition): the file is not a whole export in order")
                }
            }
            imported = pending.last!.position
            pending.removeAll(keepingCapacity: true)
        }

        var rest = Data()
        while true {
            let chunk = input.readData(ofLength: 1 << 20)
            rest.append(chunk)
            while let newline = rest.firstIndex(of: 0x0A) {
                let line = rest[rest.startIndex..<newline]
                rest = Data(rest[(newline + 1)...])
                lineNumber += 1
                guard !line.isEmpty else { continue }
                let event = try ExportedEvent(line: line, number: lineNumber)
                pending.append((event.position, event.request))
                if pending.count >= 2048 { try await flush() }
            }
            if chunk.isEmpty { break }
        }
        guard rest.isEmpty else { throw CommandError("the file ends in the middle of a line") }
        try await flush()
        return imported
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
        enum Key: String, CodingKey { case position, streamId, version, type, schemaVersion, recordedAtMicros, payload }

        let position: Int64
        let streamId: String
        let version: Int64
        let type: String
        let schemaVersion: Int64
        let recordedAtMicros: Int64
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
            payload = try field(.payload)
        }
    }

    let position: UInt64
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
        guard let payload = Data(base64Encoded: envelope.payload) else {
            throw CommandError("line \(number): \"payload\" is not base64")
        }
        position = UInt64(envelope.position)
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
