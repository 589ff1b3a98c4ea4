// The `almanac` command: `almanac serve` runs the scheduler with its HTTP API.
import ArgumentParser

/// The root command.
@main
struct Almanac: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "almanac",
        abstract: "A task scheduler that keeps every decision in an append-only journal.",
        subcommands: [Serve.self]
    )
}
