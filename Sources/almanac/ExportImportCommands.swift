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
        let target = data.dataDir
        if FileManager.default.fileExists(atPath: target + "/data.mdb") {
            throw CommandError("\(target) already holds a journal; import builds a new one only")
        }
        guard let input = FileHandle(forReadingAtPath: file) else { throw CommandError("cannot read \(file)") }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let journal = try LMDBJournal(directory: target, configuration: .init(mapSize: mapBytes))
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
                guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                    let position = (object["position"] as? NSNumber)?.uint64Value,
                    let stream = object["streamId"] as? String,
                    let version = (object["version"] as? NSNumber)?.uint64Value,
                    let type = object["type"] as? String,
                    let schemaVersion = (object["schemaVersion"] as? NSNumber)?.uint16Value,
                    let recordedAt = (object["recordedAtMicros"] as? NSNumber)?.int64Value,
                    let payloadText = object["payload"] as? String, let payload = Data(base64Encoded: payloadText)
                else {
                    throw CommandError("line \(lineNumber) is not an exported event")
                }
                pending.append((position, AppendRequest(
                    streamID: StreamID(stream), expectedVersion: version == 1 ? .noStream : .exactly(version - 1),
                    events: [ProposedEvent(type: type, schemaVersion: schemaVersion, recordedAt: recordedAt, payload: Array(payload))]
                )))
                if pending.count >= 2048 { try await flush() }
            }
            if chunk.isEmpty { break }
        }
        guard rest.isEmpty else { throw CommandError("the file ends in the middle of a line") }
        try await flush()
        output("imported \(imported) events into \(target)\n")
    }
}
