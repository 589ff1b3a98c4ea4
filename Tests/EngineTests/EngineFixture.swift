import AlmanacTesting
import Engine
import Foundation
import Journal
import Logging
import Projections
import Scheduling
import Synchronization
import Testing

/// A whole engine on a manual clock and an in-memory journal, with a recording executor.
struct EngineFixture {
    let clock: ManualClock
    let journal: any Journal
    let store: ProjectionStore
    let commands: CommandService
    let dispatcher: RunDispatcher
    let scheduler: Scheduler

    /// Builds an engine over `journal` and runs `body` while its dispatcher runs.
    static func with(
        journal: any Journal = InMemoryJournal(),
        clock: ManualClock = ManualClock(now: start),
        executor: any RunExecutor,
        maxConcurrent: Int = 64,
        grace: Duration = .seconds(60),
        batchSize: Int = 4096,
        assignment: ShardAssignment = .sole(),
        _ body: (EngineFixture) async throws -> Void
    ) async throws {
        let store = ProjectionStore(journal: journal)
        try await store.catchUp()
        let commands = CommandService(journal: journal, store: store, clock: clock)
        let dispatcher = RunDispatcher(executor: executor, commands: commands, clock: clock, maxConcurrent: maxConcurrent, logger: Logger(label: "test"))
        let scheduler = Scheduler(
            journal: journal, store: store, dispatcher: dispatcher, commands: commands, clock: clock,
            configuration: .init(misfireGrace: grace, batchSize: batchSize), assignment: assignment, logger: Logger(label: "test")
        )
        let fixture = EngineFixture(clock: clock, journal: journal, store: store, commands: commands, dispatcher: dispatcher, scheduler: scheduler)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await dispatcher.run() }
            do {
                try await body(fixture)
            } catch {
                dispatcher.finish()
                throw error
            }
            dispatcher.finish()
            try await group.waitForAll()
        }
    }

    /// Runs a command as `alice`.
    @discardableResult
    func run(_ task: TaskID, _ action: TaskCommand.Action, reason: String? = nil) async throws -> CommandService.Outcome {
        try await commands.execute(TaskCommand(taskID: task, actor: "alice", reason: reason, action: action))
    }

    /// Moves the clock to `instant`, ticks, and waits for the attempts handed over to be recorded.
    @discardableResult
    func tick(at instant: Instant) async throws -> Scheduler.TickSummary {
        clock.advance(to: instant)
        let summary = try await scheduler.tick(now: instant)
        try await dispatcher.waitUntilIdle()
        return summary
    }

    /// Every event of a task, decoded.
    func events(of task: TaskID) async throws -> [TaskEvent] {
        try await journal.read(stream: StreamID(task.rawValue), after: 0, limit: 100_000).map { record in
            try EventCodec.decode(
                type: record.type, schemaVersion: record.schemaVersion, payload: record.payload,
                taskID: task, at: Instant(microsecondsSinceEpoch: record.recordedAt)
            )
        }
    }

    /// The type names of a task's events.
    func names(of task: TaskID) async throws -> [String] { try await events(of: task).map(\.kind.typeName) }

    /// The run log of a task, with the texts its records keep in the journal.
    func runs(of task: TaskID) async throws -> [RunRecord] {
        try await RunRecord.withDetails(await store.projection.runLog.records(of: task), from: journal)
    }
}

let start = Instant(secondsSinceEpoch: 1_795_428_000)  // 2026-11-23T10:00:00Z

func at(_ seconds: Int64) -> Instant { Instant(microsecondsSinceEpoch: start.microsecondsSinceEpoch + seconds * 1_000_000) }

func everyMinute(
    _ name: String = "minutely",
    retry: RetryPolicy = RetryPolicy(),
    overlap: OverlapPolicy = .allow,
    misfire: MisfirePolicy = .runOnce
) -> TaskDefinition {
    TaskDefinition(
        name: name,
        schedule: Schedule(.interval(every: .seconds(60), anchor: start)),
        action: WebhookAction(url: "http://127.0.0.1:9/\(name)"),
        retry: retry,
        overlap: overlap,
        misfire: misfire
    )
}

/// An executor whose attempts wait until the test opens the gate (or the attempt is
/// cancelled); records what it got.
final class GatedExecutor: RunExecutor {
    private struct State {
        var open = false
        var requests: [RunRequest] = []
        var waiting: [RunID: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = Mutex(State())

    var requests: [RunRequest] { state.withLock { $0.requests } }
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    func execute(_ request: RunRequest) async -> RunResult {
        let run = request.start.run
        let opened = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer: Bool? = state.withLock { state in
                    state.requests.append(request)
                    if state.open { return true }
                    if Task.isCancelled { return false }
                    state.waiting[run] = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let continuation = state.withLock { $0.waiting.removeValue(forKey: run) }
            continuation?.resume(returning: false)
        }
        return opened ? .succeeded(RunOutcome(statusCode: 200)) : .failed(RunOutcome(error: "cancelled"))
    }

    /// Lets every waiting and later attempt finish.
    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(returning: true) }
    }

    /// Waits (yielding, never sleeping) until `count` attempts are held.
    func waitForHeld(_ count: Int) async {
        for _ in 0..<100_000 where waitingCount < count { await Task.yield() }
    }
}

/// Yields until `condition` holds (bounded; never sleeps).
func eventually(_ condition: () async -> Bool) async -> Bool {
    for _ in 0..<200_000 {
        if await condition() { return true }
        await Task.yield()
    }
    return false
}

/// An in-memory journal where another writer wins a stream's next appends, as a second
/// process would: each refused append fails with `wrongExpectedVersion` and writes nothing.
final class ContendedJournal: Journal {
    private let inner = InMemoryJournal()
    private let refusing = Mutex<[String: Int]>([:])
    private let refusedType: String

    /// A journal refusing appends that hold an event of `refusedType`.
    init(refusing refusedType: String) { self.refusedType = refusedType }

    /// Refuses the next `count` appends to `task`'s stream holding the refused type.
    func refuse(_ count: Int, of task: TaskID) { refusing.withLock { $0[task.rawValue] = count } }

    /// Appends still to be refused for `task`.
    func refusals(of task: TaskID) -> Int { refusing.withLock { $0[task.rawValue] ?? 0 } }

    func append(_ requests: [AppendRequest]) async -> [Result<AppendResult, JournalError>] {
        let refused = refusing.withLock { counts in
            requests.map { request -> Bool in
                guard let left = counts[request.streamID.rawValue], left > 0,
                      request.events.contains(where: { $0.type == refusedType }) else { return false }
                counts[request.streamID.rawValue] = left - 1
                return true
            }
        }
        let passed = requests.indices.filter { !refused[$0] }
        var results = await inner.append(passed.map { requests[$0] })[...]
        return requests.indices.map { index in
            if refused[index] {
                return .failure(JournalError(
                    code: .wrongExpectedVersion, message: "another writer won", streamID: requests[index].streamID
                ))
            }
            return results.removeFirst()
        }
    }

    func read(after position: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        try await inner.read(after: position, limit: limit)
    }

    func read(stream: StreamID, after version: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        try await inner.read(stream: stream, after: version, limit: limit)
    }

    func version(of stream: StreamID) async throws(JournalError) -> UInt64 { try await inner.version(of: stream) }

    func head() async throws(JournalError) -> UInt64 { try await inner.head() }

    func waitForEvents(after position: UInt64) async throws { try await inner.waitForEvents(after: position) }
}
