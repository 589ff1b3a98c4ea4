import ArgumentParser
import Audit
import Foundation
import Journal
import Projections
import Scheduling

/// A failure of an offline command: printed as `Error: <message>`, exit status 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a snapshot directory's `manifest.json` says.
struct SnapshotManifest: Codable {
    static let currentFormat = "almanac-snapshot/1"

    var format: String
    var journalFormatVersion: UInt32
    var headPosition: UInt64
    var digest: String
    var runRetention: Int
    var createdAt: String
    var dataFile: String
    var dataBytes: UInt64
    var dataCRC32C: String

    static func read(from directory: String) throws -> SnapshotManifest {
        guard let data = FileManager.default.contents(atPath: directory + "/manifest.json") else {
            throw CommandError("\(directory) is not a snapshot: it has no manifest.json")
        }
        guard let manifest = try? JSONDecoder().decode(SnapshotManifest.self, from: data) else {
            throw CommandError("\(directory)/manifest.json cannot be read as a snapshot manifest")
        }
        guard manifest.format == currentFormat else {
            throw CommandError("\(directory) is a snapshot of format \(manifest.format); this almanac reads \(currentFormat)")
        }
        return manifest
    }
}

/// The CRC32C and size of a file, read in 1 MiB chunks.
func fileChecksum(_ path: String) throws -> (bytes: UInt64, crc: String) {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandError("cannot read \(path)") }
    defer { try? handle.close() }
    var crc: UInt32 = 0
    var bytes: UInt64 = 0
    while true {
        let chunk = handle.readData(ofLength: 1 << 20)
        if chunk.isEmpty { break }
        bytes += UInt64(chunk.count)
        crc = chunk.withUnsafeBytes { CRC32C.update(crc, $0) }
    }
    return (bytes, String(format: "%08x", crc))
}

/// Writes `data` to `path` and fsyncs it.
func writeDurably(_ data: Data, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: data) else { throw CommandError("cannot write \(path)") }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.synchronize()
    try handle.close()
}

/// fsyncs a directory, so renames in it are durable.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
}

/// An instant for file names, to the millisecond: `20261123T091500.123Z`.
func fileStamp(_ date: Date = Date()) -> String {
    Instant(date).rfc3339.prefix(23).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") + "Z"
}

/// `almanac snapshot`: a hot, consistent, compacted copy with a manifest.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Copy the journal (hot, consistent, compacted) into a new snapshot directory with a manifest.",
        discussion: "Safe while a server writes: the copy is the journal as of one read transaction. OUT must not exist; the snapshot appears there whole or not at all (it is written beside it and renamed). The manifest records the head position, the state digest, the format versions, the creation instant, and the size and CRC32C of data.mdb."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Argument(help: "The snapshot directory to create.")
    var out: String

    @Option(help: "The server's run retention (--run-retention), so that the digest matches /readyz.")
    var runRetention: Int = 20

    @Option(help: "table (a line of text) or json (the manifest, with the snapshot's path).")
    var format: OutputFormat = .table

    func run() throws {
        let target = URL(fileURLWithPath: out).standardizedFileURL.path
        guard !FileManager.default.fileExists(atPath: target) else { throw CommandError("\(target) already exists") }
        let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandError("\(parent) does not exist (or is not a directory); create it first")
        }
        let staging = "\(parent)/.\(URL(fileURLWithPath: target).lastPathComponent).partial-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        do {
            let journal = try data.openJournal()
            try journal.copy(to: staging, compact: true)
            journal.close()
            let copy = try LMDBJournal(directory: staging, configuration: .init(mapSize: 1 << 20, readOnly: true))
            let projection = try replay(copy, until: nil, runRetention: runRetention)
            copy.close()
            // The read-only open leaves a lock file; a snapshot holds the data file alone.
            try? FileManager.default.removeItem(atPath: staging + "/lock.mdb")
            let (bytes, crc) = try fileChecksum(staging + "/data.mdb")
            let manifest = SnapshotManifest(
                format: SnapshotManifest.currentFormat, journalFormatVersion: LMDBJournal.formatVersion,
                headPosition: projection.position, digest: projection.digest, runRetention: runRetention,
                createdAt: Instant(Date()).rfc3339, dataFile: "data.mdb", dataBytes: bytes, dataCRC32C: crc
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try writeDurably(try encoder.encode(manifest), to: staging + "/manifest.json")
            let dataHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: staging + "/data.mdb"))
            try dataHandle.synchronize()
            try dataHandle.close()
            syncDirectory(staging)
            guard rename(staging, target) == 0 else { throw CommandError("cannot rename \(staging) to \(target): \(String(cString: strerror(errno)))") }
            syncDirectory(parent)
            switch format {
            case .table:
                output("snapshot \(target): position \(manifest.headPosition), digest \(manifest.digest), \(bytes) bytes, crc32c \(crc)\n")
            case .json:
                output("{\"path\":\(jsonString(target)),\"manifest\":" + String(decoding: try JSONEncoder.sorted.encode(manifest), as: UTF8.self) + "}\n")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}

/// `almanac restore`: replaces a data directory with a verified snapshot.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Verify a snapshot, then make it the data directory, keeping the old one.",
        discussion: "Checks the data file's size and CRC32C against the manifest and audits a staged copy (digest and head must match the manifest) before touching the data directory. Refuses while a server holds the data directory. The old directory is kept as <data-dir>.before-restore-<instant>."
    )

    @Argument(help: "The snapshot directory.")
    var snapshot: String

    @Option(help: "The data directory to replace (or create). The server on it must be stopped.")
    var dataDir: String = ProcessInfo.processInfo.environment["ALMANAC_DATA_DIR"] ?? "./data"

    @Option(help: "table (lines of text) or json (one object: what was restored, and where the old directory is kept).")
    var format: OutputFormat = .table

    func run() throws {
        let manifest = try SnapshotManifest.read(from: snapshot)
        let dataFile = snapshot + "/" + manifest.dataFile
        let (bytes, crc) = try fileChecksum(dataFile)
        guard bytes == manifest.dataBytes else {
            throw CommandError("the snapshot's \(manifest.dataFile) has \(bytes) bytes, the manifest says \(manifest.dataBytes): it is truncated or altered; nothing was changed")
        }
        guard crc == manifest.dataCRC32C else {
            throw CommandError("the snapshot's \(manifest.dataFile) has CRC32C \(crc), the manifest says \(manifest.dataCRC32C): it is damaged or altered; nothing was changed")
        }
        let target = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        let stamp = fileStamp()
        let staging = "\(target).restore-\(stamp).partial"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            try FileManager.default.copyItem(atPath: dataFile, toPath: staging + "/data.mdb")
            let (stagedBytes, stagedCRC) = try fileChecksum(staging + "/data.mdb")
            guard stagedBytes == bytes, stagedCRC == crc else { throw CommandError("the staged copy differs from the snapshot; nothing was changed") }
            // Audit the staged copy: integrity, the rules, and the manifest's head and digest.
            let (auditor, problems) = try auditStaged(staging, runRetention: manifest.runRetention)
            try? FileManager.default.removeItem(atPath: staging + "/lock.mdb")
            guard problems.isEmpty else {
                throw CommandError("the snapshot does not audit clean; nothing was changed:\n  " + problems.prefix(20).joined(separator: "\n  "))
            }
            guard auditor.projection.position == manifest.headPosition, auditor.projection.digest == manifest.digest else {
                throw CommandError("the snapshot holds position \(auditor.projection.position) with digest \(auditor.projection.digest), the manifest says \(manifest.headPosition) and \(manifest.digest); nothing was changed")
            }
            let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
            let backup = "\(target).before-restore-\(stamp)"
            var previous: String?
            if FileManager.default.fileExists(atPath: target) {
                let kept: String
                do {
                    kept = try LMDBJournal.replaceDirectory(target, with: staging, keepingOldAs: backup)
                } catch let error as JournalError where error.code == .locked {
                    throw CommandError("a server holds \(target); stop it first (nothing was changed)")
                }
                previous = kept
            } else {
                guard rename(staging, target) == 0 else { throw CommandError("cannot move the snapshot into place: \(String(cString: strerror(errno)))") }
            }
            syncDirectory(parent)
            switch format {
            case .table:
                if let previous { output("kept the previous data directory as \(previous)\n") }
                output("restored \(target) from \(snapshot): position \(manifest.headPosition), digest \(manifest.digest)\n")
            case .json:
                output("{\"restored\":\(jsonString(target)),\"snapshot\":\(jsonString(URL(fileURLWithPath: snapshot).standardizedFileURL.path)),\"headPosition\":\(manifest.headPosition),"
                    + "\"digest\":\(jsonString(manifest.digest)),\"previous\":\(previous.map(jsonString) ?? "null")}\n")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }
}

extension JSONEncoder {
    /// Compact, with sorted keys: one line of JSON.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
