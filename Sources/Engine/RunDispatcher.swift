import Journal
public import Logging
public import ServiceLifecycle
import Synchronization
public import Scheduling

/// Runs claimed attempts on an executor with bounded concurrency, and records each outcome
/// through the command service.
///
/// The scheduler claims no more attempts than there are free slots, so when the pool is
/// saturated due attempts wait in the due index — their lateness grows and is recorded at
/// the claim — and none is dropped.
public final class RunDispatcher: Service, Sendable {
    private let executor: any RunExecutor
    private let commands: CommandService
    private let clock: any WallClock
    private let logger: Logger
    /// The most attempts in flight at once.
    public let maxConcurrent: Int
    private let inFlight = Mutex(0)
    /// Attempts handed to the executor whose outcome is not recorded yet, by run.
    private let unrecorded = Mutex<[RunID: TaskID]>([:])
    /// How long a graceful shutdown waits for running attempts.
    public let shutdownDeadline: Duration
    /// Counts recorded attempts, so waiters can await the next one.
    private let recorded = PositionNotifier(head: 0)
    private let recordedCount = Mutex<UInt64>(0)
    /// Records outcomes in batches.
    private let batcher: OutcomeBatcher
    /// Lets the scheduler's ticks go ahead of outcome batches.
    let claimsFirst = ClaimsFirst()
    /// Claimed attempts, a batch at a time (one hand-over per group commit, not one per attempt).
    private let stream: AsyncStream<[RunRequest]>
    private let input: AsyncStream<[RunRequest]>.Continuation

    /// Creates a dispatcher.
    public init(
        executor: any RunExecutor,
        commands: CommandService,
        clock: any WallClock,
        maxConcurrent: Int = 256,
        shutdownDeadline: Duration = .seconds(30),
        logger: Logger
    ) {
        self.logger = logger
        self.shutdownDeadline = shutdownDeadline
        self.executor = executor
        self.commands = commands
        self.batcher = OutcomeBatcher(commands: commands, claimsFirst: claimsFirst)
        self.clock = clock
        self.maxConcurrent = max(1, maxConcurrent)
        (stream, input) = AsyncStream.makeStream(of: [RunRequest].self)
        // Room for every slot up front (up to a bound): a burst that fills them all would
        // otherwise rehash the table as it doubles, on the scheduler's path.
        unrecorded.withLock { $0.reserveCapacity(min(self.maxConcurrent, 1 << 17)) }
    }

    /// Slots free for new attempts.
    public var freeSlots: Int { inFlight.withLock { maxConcurrent - $0 } }

    /// Attempts handed over and not yet recorded.
    public var running: Int { inFlight.withLock { $0 } }

    /// Hands claimed attempts over; the caller made sure there were slots for them.
    public func dispatch(_ requests: [RunRequest]) {
        guard !requests.isEmpty else { return }
        inFlight.withLock { $0 += requests.count }
        unrecorded.withLock { runs in
            for request in requests { runs[request.start.run] = request.taskID }
        }
        input.yield(requests)
    }

    /// Whether `run` is handed over here and its outcome not recorded.
    public func isRunning(_ run: RunID) -> Bool { unrecorded.withLock { $0[run] != nil } }

    /// Whether an attempt of a task `matching` is handed over and its outcome not recorded.
    public func hasRuns(where matching: (TaskID) -> Bool) -> Bool {
        unrecorded.withLock { runs in runs.values.contains(where: matching) }
    }

    /// Stops accepting attempts; `run()` returns once those handed over are recorded.
    public func finish() { input.finish() }

    /// Executes attempts until ``finish()`` is called or the service group shuts down
    /// gracefully. Then it takes no new attempts, lets those running finish until the
    /// shutdown deadline, cancels the rest, and records them as interrupted (they are
    /// retried under the same idempotency key per their task's policy).
    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await requests in stream.cancelOnGracefulShutdown() {
                // A burst is claimed before its calls start (ClaimsFirst).
                await claimsFirst.waitForBurst()
                for request in requests { group.addTask(priority: .low) { await self.perform(request) } }
            }
            let deadline = clock.now() + shutdownDeadline
            let drained = await withTaskGroup(of: Bool.self) { race in
                race.addTask { (try? await self.waitUntilIdle()) != nil && self.running == 0 }
                race.addTask {
                    try? await self.clock.sleep(until: deadline)
                    return false
                }
                let first = await race.next() ?? false
                race.cancelAll()
                return first
            }
            if !drained { group.cancelAll() }
        }
        await recordInterrupted()
    }

    /// Fails the attempts that were cancelled at shutdown as interrupted.
    private func recordInterrupted() async {
        let abandoned = unrecorded.withLock { Set($0.values) }
        for task in abandoned.sorted() {
            do {
                try await commands.execute(TaskCommand(
                    taskID: task, actor: "scheduler", reason: "interrupted by shutdown", action: .recoverRuns
                ))
            } catch {
                // Left in flight: recovery at the next start records them instead.
                logger.error("interrupted runs not recorded", metadata: ["task.id": "\(task)", "error": "\(error)"])
            }
        }
    }

    /// Returns once no attempt is in flight.
    public func waitUntilIdle() async throws {
        while true {
            let seen = recorded.position
            if running == 0 { return }
            try await recorded.wait(after: seen)
        }
    }

    private func perform(_ request: RunRequest) async {
        let result = await executor.execute(request)
        if Task.isCancelled {
            // Shutdown cut the attempt short: `run()` records it as interrupted.
            finishedOne()
            return
        }
        let action: TaskCommand.Action
        switch result {
        case .succeeded(let outcome): action = .completeRun(request.start.run, outcome)
        case .failed(let outcome): action = .failRun(request.start.run, outcome)
        }
        let command = TaskCommand(taskID: request.taskID, actor: "scheduler", action: action)
        switch await batcher.record(command) {
        case .done:
            unrecorded.withLock { $0[request.start.run] = nil }
        case .refused(let reason):
            // As on its own: the run is no longer in flight (recovered, say); nothing to record.
            unrecorded.withLock { $0[request.start.run] = nil }
            logger.error("run outcome not recorded", metadata: ["task.id": "\(request.taskID)", "run.id": "\(request.start.run)", "error": "\(reason)"])
        case .retry:
            await record(command, of: request)
        }
        finishedOne()
    }

    /// Records an outcome. Losing races for the task (to the scheduler's claims, or to
    /// another process) is never a reason to drop it: it tries again, backing off, until it
    /// is recorded or shutdown cancels it (then it is recorded as interrupted).
    private func record(_ command: TaskCommand, of request: RunRequest) async {
        var backoff = Duration.milliseconds(2)
        while true {
            do {
                try await commands.execute(command)
                unrecorded.withLock { $0[request.start.run] = nil }
                return
            } catch {
                // Lost a race for the task, or the journal's database is out of reach for a
                // while: try again. Anything else is final.
                let code = (error as? JournalError)?.code
                guard code == .wrongExpectedVersion || code == .unavailable else {
                    // The run stays in flight in the journal; recovery (at the next start, or
                    // by the shard's next owner) fails it as interrupted and retries it under
                    // the same idempotency key.
                    logger.error(
                        "run outcome not recorded",
                        metadata: ["task.id": "\(request.taskID)", "run.id": "\(request.start.run)", "error": "\(error)"]
                    )
                    return
                }
                logger.warning(
                    code == .unavailable ? "run outcome not recorded yet: the journal is unavailable; trying again"
                        : "run outcome lost a race for its task; trying again",
                    metadata: ["task.id": "\(request.taskID)", "run.id": "\(request.start.run)", "backoff": "\(backoff)"]
                )
                do {
                    try await clock.sleep(until: clock.now() + backoff)
                } catch {
                    return  // shutdown: `run()` records it as interrupted
                }
                backoff = min(backoff * 2, .seconds(1))
            }
        }
    }

    private func finishedOne() {
        inFlight.withLock { $0 -= 1 }
        let count = recordedCount.withLock { value in
            value += 1
            return value
        }
        recorded.advance(to: count)
    }
}
