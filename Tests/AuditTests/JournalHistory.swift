import AlmanacTesting
import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling

/// Writes a realistic history into an LMDB journal with the real engine on a manual clock:
/// interval, cron and one-time tasks, failures with retries, pauses, a trigger, an update, a
/// delete, and a downtime that makes the scheduler skip misfired occurrences. A follower
/// applies the journal event by event as it grows and records the digest at every 100th
/// position — the state as it was live at that position.
enum JournalHistory {
    static let start = Instant(rfc3339: "2026-03-28T23:00:00Z")!
    static let marker = "MARKER-7d1f0c9a4e"

    struct Result {
        /// Digest of the projection (run retention 20) at each multiple of 100.
        var digests: [UInt64: String] = [:]
        var head: UInt64 = 0
        var finalDigest = ""
        /// The position of the event whose payload holds ``marker``.
        var markerPosition: UInt64 = 0
    }

    static func write(to directory: String) async throws -> Result {
        let journal = try LMDBJournal(directory: directory, configuration: .init(mapSize: 64 << 20))
        defer { journal.close() }
        let clock = ManualClock(now: start)
        let executor = RecordingExecutor()
        let store = ProjectionStore(journal: journal)
        let commands = CommandService(journal: journal, store: store, clock: clock)
        let logger = Logger(label: "audit-test")
        let dispatcher = RunDispatcher(executor: executor, commands: commands, clock: clock, maxConcurrent: 64, logger: logger)
        let scheduler = Scheduler(journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock, logger: logger)
        var result = Result()
        var follower = Projection(runRetention: 20)

        func follow() async throws {
            while true {
                let batch = try await journal.read(after: follower.position, limit: 512)
                if batch.isEmpty { return }
                for event in batch {
                    try follower.apply(event)
                    if event.position % 100 == 0 { result.digests[event.position] = follower.digest }
                }
            }
        }
        func run(_ task: String, _ action: TaskCommand.Action, reason: String? = nil) async throws -> CommandService.Outcome {
            try await commands.execute(TaskCommand(taskID: TaskID(task), actor: "ops", reason: reason, action: action))
        }
        func action(_ path: String) -> WebhookAction { WebhookAction(url: "http://127.0.0.1:9/\(path)", timeout: .seconds(2)) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await dispatcher.run() }
            let retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(2), multiplier: 2, maxBackoff: .seconds(10))
            _ = try await run("every-10s", .createTask(TaskDefinition(
                name: "every ten", schedule: Schedule(.interval(every: .seconds(10), anchor: start)), action: action("a"), retry: retry)))
            // Lisbon springs forward at 01:00 UTC on 29 March 2026: the cron crosses it.
            let cron = try CronSchedule(expression: CronExpression("0 */5 * * * *"), timeZoneIdentifier: "Europe/Lisbon")
            let created = try await run("cron-5m", .createTask(TaskDefinition(
                name: "five minutes", description: marker, schedule: Schedule(.cron(cron)), action: action("b"), overlap: .forbid)))
            result.markerPosition = created.position
            _ = try await run("once", .createTask(TaskDefinition(
                name: "once", schedule: Schedule(.once(start + .seconds(95))), action: action("c"))))
            _ = try await run("skipper", .createTask(TaskDefinition(
                name: "skipper", schedule: Schedule(.interval(every: .seconds(30), anchor: start)), action: action("d"), misfire: .skip)))

            var now = start
            for step in 1...400 {
                now = now + .seconds(5)
                if step == 150 { now = now + .seconds(600) }  // downtime: misfires
                // Every seventh call fails, so retries are scheduled and claimed.
                executor.answer(step % 7 == 0 ? .failed(RunOutcome(statusCode: 503, error: "HTTP 503")) : .succeeded(RunOutcome(statusCode: 200, duration: .milliseconds(20))))
                clock.advance(to: now)
                try await scheduler.tick(now: now)
                try await dispatcher.waitUntilIdle()
                switch step {
                case 40: _ = try await run("skipper", .pauseTask, reason: "maintenance")
                case 60: _ = try await run("skipper", .resumeTask)
                case 80: _ = try await run("every-10s", .triggerTask(trigger: "by-hand"))
                case 120: _ = try await run("cron-5m", .updateTask(TaskDefinition(
                    name: "five minutes", description: marker, schedule: Schedule(.cron(cron)), action: action("b2"), overlap: .forbid)))
                case 300: _ = try await run("skipper", .deleteTask, reason: "no longer needed")
                default: break
                }
                try await follow()
            }
            dispatcher.finish()
            try await group.waitForAll()
        }
        try await follow()
        result.head = follower.position
        result.finalDigest = follower.digest
        return result
    }
}
