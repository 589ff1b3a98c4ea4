import ArgumentParser
import Audit
import Engine
import Foundation
import Journal
import PostgresJournal
import Projections
import Scheduling
import Server

/// `almanac audit`: verifies the journal record by record and event by event.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify a journal: checksums, the hash chain, positions, versions, and the scheduling rules.",
        discussion: "Exits 0 when the journal is clean, 1 when a problem is found (each printed with its position and an explanation)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @OptionGroup var shared: SharedJournalOptions

    @Option(help: "How long after its due instant an unclaimed occurrence counts as missed (the scheduler's misfire grace).")
    var grace: String = "60s"

    @Option(help: "The server's run retention (--run-retention), so that the digest matches /readyz.")
    var runRetention: Int = 20

    @Option(help: "table or json.")
    var format: OutputFormat = .table

    func validate() throws {
        guard DurationText.parse(grace) != nil else { throw ValidationError("--grace \"\(grace)\" is not a duration, e.g. 60s") }
    }

    func run() async throws {
        guard let grace = DurationText.parse(grace) else { throw ValidationError("--grace \"\(grace)\" is not a duration, e.g. 60s") }
        var auditor = Auditor(runRetention: runRetention)
        let integrity: IntegrityReport
        if let postgres = try await shared.openPostgres() {
            defer { postgres.close() }
            var verifier = ChainVerifier()
            try await forEachRecord(in: postgres, progress: "audit") { record in
                verifier.check(record)
                auditor.apply(record)
            }
            integrity = verifier.report
        } else {
            let journal = try data.openJournal()
            defer { journal.close() }
            var checking = Progress("audit: checksums")
            integrity = try journal.verifyIntegrity { checked, head in checking.update(checked, of: head) }
            checking.finish()
            try forEachRecord(in: journal, through: integrity.head, progress: "audit: rules") { record in
                auditor.apply(record)
                return true
            }
        }
        let (endProblems, inFlight) = auditor.finish(grace: grace)
        var problems = integrity.problems.map { (position: $0.position, task: String?.none, message: $0.message) }
        problems += auditor.findings.map { (position: $0.position, task: $0.taskID?.rawValue, message: $0.message) }
        problems += endProblems.map { (position: $0.position, task: $0.taskID?.rawValue, message: $0.message) }
        let clean = problems.isEmpty
        let projection = auditor.projection
        switch format {
        case .json:
            func problemJSON(_ problem: (position: UInt64?, task: String?, message: String)) -> String {
                "{\"position\":\(problem.position.map(String.init) ?? "null"),\"taskId\":\(problem.task.map(jsonString) ?? "null"),\"message\":\(jsonString(problem.message))}"
            }
            output("""
                {"clean":\(clean),"events":\(auditor.events),"headPosition":\(integrity.head),\
                "tasks":\(projection.tasks.count),"runs":\(auditor.runsStarted),\
                "firstInstant":\(auditor.firstInstant.map { jsonString($0.rfc3339) } ?? "null"),\
                "lastInstant":\(auditor.lastInstant.map { jsonString($0.rfc3339) } ?? "null"),\
                "digest":"\(projection.digest)",\
                "problems":[\(problems.map(problemJSON).joined(separator: ","))],\
                "inFlight":[\(inFlight.map { problemJSON(($0.position, $0.taskID?.rawValue, $0.message)) }.joined(separator: ","))]}

                """)
        case .table:
            output("""
                events        \(auditor.events) (head position \(integrity.head))
                tasks         \(projection.tasks.count)
                runs started  \(auditor.runsStarted)
                first instant \(auditor.firstInstant?.rfc3339 ?? "-")
                last instant  \(auditor.lastInstant?.rfc3339 ?? "-")
                digest        \(projection.digest)

                """)
            for note in inFlight { output("in flight: \(note)\n") }
            if clean {
                output("clean: every checksum, position and version is in order, and every event follows the rules\n")
            } else {
                let total = integrity.problems.count + auditor.findingCount + endProblems.count
                output("\(total) problem\(total == 1 ? "" : "s"):\n")
                for problem in problems {
                    let place = problem.position.map { "position \($0)" } ?? "end of journal"
                    output("  \(place)\(problem.task.map { ", task \($0)" } ?? ""): \(problem.message)\n")
                }
            }
        }
        if !clean { throw ExitCode(1) }
    }
}

/// A JSON string literal.
func jsonString(_ text: String) -> String { "\"" + JSONEscape.content(text) + "\"" }
