import Access
import ArgumentParser
import Foundation
import Journal
import Scheduling
import Server

/// `almanac history TASK_ID`: a task's events in order, each explained in a line.
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show a task's events in order, with instant, actor, reason and what each did."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Argument(help: "The task's id.")
    var taskID: String

    @Option(help: "table, or json (one event per line, as GET /v1/tasks/{id}/events shows it).")
    var format: OutputFormat = .table

    func run() throws {
        let journal = try data.openJournal()
        defer { journal.close() }
        let id = TaskID(taskID)
        var version: UInt64 = 0
        var count = 0
        while true {
            let batch = try journal.readStream(StreamID(taskID), after: version, limit: 4096)
            if batch.isEmpty { break }
            for record in batch {
                version = record.streamVersion
                count += 1
                switch format {
                case .json:
                    output(Representation.eventJSON(record) + [0x0A])
                case .table where record.streamID.isReserved:
                    let at = Instant(microsecondsSinceEpoch: record.recordedAt)
                    let event = try? AccessEventCodec.decode(record)
                    var what = record.type
                    switch event?.kind {
                    case .tokenCreated(let token)?:
                        what = "issued token \(token.id) \"\(token.name)\" (\(token.role.rawValue), namespace \(token.namespace ?? "all"))"
                    case .tokenRevoked(let id)?:
                        what = "revoked token \(id)"
                    case nil:
                        what += ": cannot be decoded"
                    }
                    let reason = event?.reason.map { " — \($0)" } ?? ""
                    output("\(column(at.rfc3339, 28))#\(record.streamVersion) @\(record.position)  \(event?.actor ?? "?"): \(what)\(reason)\n")
                case .table:
                    let at = Instant(microsecondsSinceEpoch: record.recordedAt)
                    guard let event = try? EventCodec.decode(
                        type: record.type, schemaVersion: record.schemaVersion, payload: record.payload, taskID: id, at: at)
                    else {
                        output("\(at.rfc3339)  #\(record.streamVersion) @\(record.position)  \(record.type): cannot be decoded\n")
                        continue
                    }
                    var line = "\(column(at.rfc3339, 28))#\(record.streamVersion) @\(record.position)  \(event.actor): \(explain(event.kind, at: at))"
                    if let reason = event.reason { line += " — reason: \(reason)" }
                    output(line + "\n")
                }
            }
        }
        guard count > 0 else { throw CommandError("no task \(taskID) in this journal") }
    }
}

/// One line saying what an event did.
func explain(_ kind: TaskEvent.Kind, at: Instant) -> String {
    func next(_ instant: Instant?) -> String { instant.map { "next occurrence \($0.rfc3339)" } ?? "no further occurrence" }
    func milliseconds(_ duration: Duration?) -> String {
        duration.map { String(format: "%.1f ms", Double($0.wholeMicroseconds) / 1000) } ?? "-"
    }
    switch kind {
    case .created(let definition, let nextDueAt):
        return "created \"\(definition.name)\" (\(scheduleSummary(definition.schedule)) → \(definition.action.method) \(definition.action.url)); \(next(nextDueAt))"
    case .updated(let definition, let nextDueAt):
        return "definition replaced (\(scheduleSummary(definition.schedule)) → \(definition.action.method) \(definition.action.url)); \(next(nextDueAt))"
    case .paused:
        return "paused: scheduled occurrences are not claimed until it is resumed"
    case .resumed(let nextDueAt):
        return "resumed; occurrences while paused are not run; \(next(nextDueAt))"
    case .deleted:
        return "deleted"
    case .runTriggered(let trigger, _):
        return "a manual run was requested (trigger \(trigger))"
    case .runStarted(let start):
        let late = at - start.dueAt
        return "claimed attempt \(start.attempt) of the \(start.occurrenceKind.rawValue) occurrence \(start.scheduledAt.rfc3339) (due \(start.dueAt.rfc3339), \(milliseconds(late)) late); \(next(start.nextDueAt))"
    case .runSucceeded(let run, let outcome):
        return "run \(run) succeeded: HTTP \(outcome.statusCode.map(String.init) ?? "-") in \(milliseconds(outcome.duration))"
    case .runFailed(let run, let outcome, let interrupted):
        if interrupted { return "run \(run) was interrupted (Almanac stopped while it ran)" }
        return "run \(run) failed: \(outcome.error ?? "HTTP \(outcome.statusCode.map(String.init) ?? "-")")"
    case .runRetryScheduled(let retry):
        return "attempt \(retry.attempt) of \(retry.occurrence) will be tried at \(retry.dueAt.rfc3339)"
    case .occurrenceSkipped(let skip):
        let why: String
        switch skip.reason {
        case .misfire: why = "found due too late (after downtime or overload); the misfire policy skipped it"
        case .overlap: why = "a run was still in flight and the task forbids overlap"
        case .paused: why = "the task was paused while it waited"
        case .deleted: why = "the task was deleted while it waited"
        default: why = skip.reason.rawValue
        }
        return "occurrence \(skip.scheduledAt.rfc3339) (attempt \(skip.attempt)) skipped: \(why); \(next(skip.nextDueAt))"
    case .completed:
        return "completed: the schedule has no further occurrence"
    }
}
