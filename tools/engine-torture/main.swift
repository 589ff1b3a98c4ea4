// engine-torture: runs the whole engine (LMDB journal, scheduler, dispatcher, HTTP
// executor) against a receiver, so a test can kill it with SIGKILL while runs are in
// flight, start it again, and check the journal.
//
//   engine-torture DIR RECEIVER_URL TASKS            run (creating the tasks on first start)
//   engine-torture DIR RECEIVER_URL TASKS --recover  recover interrupted runs, then exit
//
// Prints "ready" once recovery is done and the loop runs.
import AlmanacTesting
import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling

let arguments = CommandLine.arguments
guard arguments.count >= 4, let taskCount = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: engine-torture DIR RECEIVER_URL TASKS [--recover]\n".utf8))
    exit(64)
}
let directory = arguments[1]
let receiver = arguments[2]
let recoverOnly = arguments.dropFirst(4).contains("--recover")

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

do {
    let clock = SystemClock()
    let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 1 << 30))
    let store = ProjectionStore(journal: journal)
    try await store.catchUp()
    let commands = CommandService(journal: journal, store: store, clock: clock)
    let executor = HTTPExecutor(clock: clock)
    let logger = Logger(label: "engine-torture")
    let dispatcher = RunDispatcher(executor: executor, commands: commands, clock: clock, maxConcurrent: 64, logger: logger)
    let scheduler = Scheduler(
        journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock, logger: logger
    )
    if await store.tasks.isEmpty {
        let anchor = Instant(secondsSinceEpoch: clock.now().secondsSinceEpoch)
        for index in 0..<taskCount {
            let definition = TaskDefinition(
                name: "torture-\(index)",
                schedule: Schedule(.interval(every: .seconds(1), anchor: anchor)),
                action: WebhookAction(url: receiver + "/task-\(index)", timeout: .seconds(2)),
                retry: RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(200), multiplier: 2, maxBackoff: .seconds(1))
            )
            try await commands.execute(TaskCommand(taskID: TaskID("task-\(index)"), actor: "torture", action: .createTask(definition)))
        }
    }
    try await scheduler.recoverInterruptedRuns()
    if recoverOnly {
        say("recovered")
        journal.close()
        exit(0)
    }
    say("ready")
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await dispatcher.run() }
        group.addTask { try await scheduler.run() }
        try await group.waitForAll()
    }
} catch {
    FileHandle.standardError.write(Data("engine-torture: \(error)\n".utf8))
    exit(1)
}
