// The `almanac` command: `almanac serve` runs the scheduler with its HTTP API; `audit`, `replay`,
// `history` and `runs` read a journal offline (read-only, also beside a running server).
import ArgumentParser

/// The root command.
@main
struct Almanac: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "almanac",
        abstract: "A task scheduler that keeps every decision in an append-only journal.",
        subcommands: [Serve.self, AuditCommand.self, ReplayCommand.self, HistoryCommand.self, RunsCommand.self, ExportCommand.self, ImportCommand.self, SnapshotCommand.self, RestoreCommand.self, TokensCommand.self]
    )
}
