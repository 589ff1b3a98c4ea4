import ArgumentParser
import Foundation
import Journal
import Projections
import Scheduling
import Server

/// `almanac replay`: rebuilds the projections from the journal and prints the tasks.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rebuild the task state from the journal (optionally up to a point) and print it.",
        discussion: "With --format json the output is the task objects GET /v1/tasks returns for the same state, sorted by id, one per line inside a JSON array, so the two can be compared."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .customLong("until"), parsing: .unconditional, help: ArgumentHelp(
        "Stop after this journal position, or after the last event recorded at or before this RFC 3339 instant.",
        valueName: "position|instant"
    ))
    var untilText: String?

    private var until: JournalPoint? { untilText.flatMap(JournalPoint.init(argument:)) }

    @Option(help: "table or json.")
    var format: OutputFormat = .table

    @Flag(help: "Print only the journal position and the projection's digest (the one /readyz reports).")
    var digest = false

    @Flag(help: "Include deleted tasks.")
    var includeDeleted = false

    @Option(help: "The server's run retention (--run-retention), so that the digest matches /readyz.")
    var runRetention: Int = 20

    func validate() throws {
        if let untilText, JournalPoint(argument: untilText) == nil {
            throw ValidationError("--until must be a journal position (a whole number, e.g. 1200) or an RFC 3339 instant (e.g. 2026-11-23T02:30:00Z), not \"\(untilText)\"")
        }
    }

    func run() throws {
        let journal = try data.openJournal()
        defer { journal.close() }
        if case .position(let position) = until, position > (try journal.currentHead()) {
            throw CommandError("--until \(position) is beyond the journal's head (\(try journal.currentHead()))")
        }
        let projection = try replay(journal, until: until, runRetention: runRetention)
        if digest {
            switch format {
            case .json: output("{\"position\":\(projection.position),\"digest\":\"\(projection.digest)\"}\n")
            case .table: output("position \(projection.position)\ndigest   \(projection.digest)\n")
            }
            return
        }
        let tasks = projection.tasks.values
            .filter { includeDeleted || $0.status != .deleted }
            .sorted { $0.id < $1.id }
        switch format {
        case .json:
            output("[\n")
            for (index, task) in tasks.enumerated() {
                output(Representation.taskJSON(task))
                output(index == tasks.count - 1 ? "\n" : ",\n")
            }
            output("]\n")
        case .table:
            // Ids are never cut: they are what `history` and the API take.
            let idWidth = max(4, tasks.map(\.id.rawValue.count).max() ?? 0) + 2
            output(column("ID", idWidth) + column("STATUS", 10) + column("NAME", 24) + column("SCHEDULE", 36)
                + column("NEXT", 22) + "RUNS OK/FAILED/SKIPPED\n")
            for task in tasks {
                let counts = task.counts
                output(column(task.id.rawValue, idWidth) + column(task.status.rawValue, 10) + column(task.definition.name, 24)
                    + column(scheduleSummary(task.definition.schedule), 36)
                    + column(task.status == .active ? task.nextDueAt?.rfc3339 ?? "-" : "-", 22)
                    + "\(counts.runs) \(counts.succeeded)/\(counts.failed)/\(counts.skipped)\n")
            }
            output("\(tasks.count) task\(tasks.count == 1 ? "" : "s") at position \(projection.position)\n")
        }
    }
}

/// The projection folded from the journal, up to `until`.
func replay(_ journal: LMDBJournal, until: JournalPoint?, runRetention: Int) throws -> Projection {
    var projection = Projection(runRetention: runRetention)
    var last: UInt64?
    if case .position(let position) = until { last = position }
    try forEachRecord(in: journal, through: last, progress: "replay") { record in
        if case .instant(let instant) = until, record.recordedAt > instant.microsecondsSinceEpoch { return false }
        try projection.apply(record)
        return true
    }
    return projection
}

/// A schedule in a few words: `cron 0 30 2 * * * Europe/Lisbon`, `every 1m30s`, `at …`.
func scheduleSummary(_ schedule: Schedule) -> String {
    switch schedule.kind {
    case .cron(let cron): "cron \(cron.expression.source) \(cron.timeZoneIdentifier)"
    case .interval(let every, _): "every \(every.formatted(.units(allowed: [.hours, .minutes, .seconds, .milliseconds], width: .narrow)))"
    case .once(let at): "at \(at.rfc3339)"
    }
}
