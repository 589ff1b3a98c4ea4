import ArgumentParser
import Foundation
import Journal
import Projections
import Scheduling
import Server

/// `almanac runs [TASK_ID]`: the run log, newest first, from the whole journal.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Show the run log (newest first), for one task or all, from the whole journal."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Argument(help: "Only this task's runs.")
    var taskID: String?

    @Option(parsing: .unconditional, help: "How many runs to show.")
    var limit: Int = 50

    @Option(help: "table, or json (one run per line, as GET /v1/runs shows it).")
    var format: OutputFormat = .table

    func validate() throws {
        guard (1...1_000_000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000000") }
    }

    func run() throws {
        let journal = try data.openJournal()
        defer { journal.close() }
        var log = RunLog(retention: max(1, limit))
        if let taskID {
            var version: UInt64 = 0
            while true {
                let batch = try journal.readStream(StreamID(taskID), after: version, limit: 4096)
                if batch.isEmpty { break }
                for record in batch {
                    version = record.streamVersion
                    if let event = decode(record) { log.apply(event, position: record.position) }
                }
            }
            guard version > 0 else { throw CommandError("no task \(taskID) in this journal") }
        } else {
            try forEachRecord(in: journal, progress: "runs") { record in
                if let event = decode(record) { log.apply(event, position: record.position) }
                return true
            }
        }
        // The page picked in one pass, in the API's order (`RunLog.newest`).
        let runs = log.newest(limit, matching: RunFilter())
        let details = try RunRecord.withDetails(runs.map(\.record)) { position in
            try journal.readEvents(after: position - 1, limit: 1).first
        }
        let shown = zip(runs.map(\.task), details)
        switch format {
        case .json:
            for (task, run) in shown { output(Representation.runJSON(run, task: task) + [0x0A]) }
        case .table:
            let runWidth = max(5, shown.map(\.1.run.rawValue.count).max() ?? 0) + 2
            output(column("STARTED", 28) + column("RUN", runWidth) + column("OUTCOME", 12) + column("HTTP", 6)
                + column("LATE ms", 10) + column("TOOK ms", 10) + "ERROR / SKIP REASON\n")
            for (_, run) in shown {
                let late = run.outcome == .skipped ? "-" : String(format: "%.1f", Double(run.lateness.wholeMicroseconds) / 1000)
                let took = run.duration.map { String(format: "%.1f", Double($0.wholeMicroseconds) / 1000) } ?? "-"
                output(column(run.startedAt.rfc3339, 28) + column(run.run.rawValue, runWidth) + column(run.outcome.rawValue, 12)
                    + column(run.statusCode.map(String.init) ?? "-", 6) + column(late, 10) + column(took, 10)
                    + (run.error ?? run.skipReason?.rawValue ?? "") + "\n")
            }
        }
    }

    private func decode(_ record: RecordedEvent) -> TaskEvent? {
        try? EventCodec.decode(
            type: record.type, schemaVersion: record.schemaVersion, payload: record.payload,
            taskID: TaskID(record.streamID.rawValue), at: Instant(microsecondsSinceEpoch: record.recordedAt)
        )
    }
}
