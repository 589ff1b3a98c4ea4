import ArgumentParser
import Foundation
import Journal
import PostgresJournal
import Audit
import Scheduling

/// Options every offline command shares.
struct DataDirectoryOptions: ParsableArguments {
    @Option(help: "The journal's directory. Opened read-only: a server may be running on it.")
    var dataDir: String = ProcessInfo.processInfo.environment["ALMANAC_DATA_DIR"] ?? "./data"

    /// Opens the journal read-only (readers in other processes work beside a running server).
    func openJournal() throws -> LMDBJournal {
        guard FileManager.default.fileExists(atPath: dataDir + "/data.mdb") else {
            throw CommandError("no journal in \(dataDir) (no data.mdb); give --data-dir")
        }
        // A large map only reserves address space; it lets readers follow a server that grows the file.
        return try LMDBJournal(directory: dataDir, configuration: .init(mapSize: 1 << 40, readOnly: true))
    }
}

/// Where a command finds a shared PostgreSQL journal (instead of the data directory's LMDB one).
struct SharedJournalOptions: ParsableArguments {
    @Option(help: "lmdb (the data directory's journal), or the postgres://user[:password]@host[:port]/database URL of a cluster's journal.")
    var journal: String = ProcessInfo.processInfo.environment["ALMANAC_JOURNAL"] ?? "lmdb"

    @Option(help: "The PostgreSQL journal's table.")
    var journalTable: String = ProcessInfo.processInfo.environment["ALMANAC_JOURNAL_TABLE"] ?? "almanac_events"

    func validate() throws {
        if journal != "lmdb" {
            do {
                _ = try PostgresJournal.Configuration(url: journal, table: journalTable, clock: ContinuousClock())
            } catch {
                throw ValidationError("--journal must be lmdb or a postgres:// URL: \(error)")
            }
            if let problem = PostgresJournal.problem(withTable: journalTable) { throw ValidationError("--journal-table: \(problem)") }
        }
    }

    /// The PostgreSQL journal when one is given; nil for the data directory's.
    func openPostgres() async throws -> PostgresJournal? {
        guard journal != "lmdb" else { return nil }
        var settings = try PostgresJournal.Configuration(url: journal, table: journalTable, clock: ContinuousClock())
        settings.createIfMissing = false  // a misspelt table is an error, not a new empty journal
        return try await PostgresJournal(configuration: settings)
    }
}

/// Every record of any journal in position order, up to its head when the call starts.
func forEachRecord(in journal: any Journal, progress label: String, _ body: (RecordedEvent) throws -> Void) async throws {
    let head = try await journal.head()
    var progress = Progress(label)
    defer { progress.finish() }
    var position: UInt64 = 0
    while position < head {
        let batch = try await journal.read(after: position, limit: 8192)
        if batch.isEmpty { break }
        for record in batch where record.position <= head {
            try body(record)
            position = record.position
        }
        progress.update(position, of: head)
    }
}

/// Output formats of the data-printing commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// A journal position or an RFC 3339 instant, as `--until` takes it.
enum JournalPoint: ExpressibleByArgument {
    case position(UInt64)
    case instant(Instant)

    init?(argument: String) {
        if let position = UInt64(argument) {
            self = .position(position)
        } else if let instant = Instant(rfc3339: argument) {
            self = .instant(instant)
        } else {
            return nil
        }
    }
}

/// Progress on standard error, only when it is a terminal and the work has taken more than a
/// second; redrawn at most every 200 ms.
struct Progress {
    private let started = Date()
    private var lastDrawn = Date.distantPast
    private let enabled = isatty(STDERR_FILENO) != 0
    private var drew = false
    let label: String
    let unit: String

    init(_ label: String, unit: String = "events") {
        self.label = label
        self.unit = unit
    }

    mutating func update(_ done: UInt64, of total: UInt64) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(started) > 1, now.timeIntervalSince(lastDrawn) > 0.2 else { return }
        lastDrawn = now
        drew = true
        let percent = total > 0 ? Double(done) * 100 / Double(total) : 100
        FileHandle.standardError.write(Data(String(format: "\r%@ %llu / %llu %@ (%.0f%%)", label, done, total, unit, percent).utf8))
    }

    func finish() {
        if drew { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Writes text to standard output.
func output(_ text: String) {
    output(Array(text.utf8))
}

/// Writes bytes to standard output; a reader that went away (`| head`) ends the process
/// quietly, as with any command-line tool.
func output(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            exit(errno == EPIPE ? 0 : 1)
        }
        offset += written
    }
}

/// Every record of the journal in position order, in batches, with progress.
func forEachRecord(
    in journal: LMDBJournal, through last: UInt64? = nil, progress label: String, _ body: (RecordedEvent) throws -> Bool
) throws {
    let head = try journal.currentHead()
    let end = min(last ?? head, head)
    var progress = Progress(label)
    var position: UInt64 = 0
    defer { progress.finish() }
    while position < end {
        let batch = try journal.readEvents(after: position, limit: 8192)
        if batch.isEmpty { break }
        for record in batch {
            if record.position > end { return }
            guard try body(record) else { return }
            position = record.position
        }
        progress.update(position, of: end)
    }
}

/// `width` characters, padded or cut.
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? String(text.prefix(width - 1)) + " " : text + String(repeating: " ", count: width - text.count)
}

/// Checks a journal that is about to replace or become a data directory: the integrity scan
/// and the auditor's rules over every record (handed to `each` too). Returns the auditor
/// (its projection holds the state) and every problem found.
func auditStaged(
    _ directory: String, runRetention: Int = 20, each: (RecordedEvent) throws -> Void = { _ in }
) throws -> (auditor: Auditor, problems: [String]) {
    let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 1 << 40, readOnly: true))
    defer { journal.close() }
    var progress = Progress("check")
    let integrity = try journal.verifyIntegrity { checked, head in progress.update(checked, of: head) }
    progress.finish()
    var auditor = Auditor(runRetention: runRetention)
    try forEachRecord(in: journal, progress: "audit") { record in
        try each(record)
        auditor.apply(record)
        return true
    }
    return (auditor, integrity.problems.map(\.description) + auditor.findings.map(\.description))
}
