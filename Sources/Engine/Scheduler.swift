public import Journal
public import Logging
import Projections
public import Scheduling
public import ServiceLifecycle

/// The scheduler loop: sleeps until the earliest due attempt (or until a command changes
/// what is due), claims everything due in one group commit, and hands the claims to the
/// dispatcher. ``tick(now:)`` is one wake-up, callable directly in tests.
public final class Scheduler: Service, Sendable {
    /// Scheduler settings.
    public struct Configuration: Sendable, Hashable {
        /// How late a scheduled occurrence may be found before its task's misfire policy applies.
        public var misfireGrace: Duration
        /// The most attempts decided in one group commit.
        public var batchSize: Int
        /// The most decisions one tick makes before letting the loop look again.
        public var maxDecisionsPerTick: Int

        /// Creates settings; the defaults suit a server.
        public init(misfireGrace: Duration = .seconds(60), batchSize: Int = 4096, maxDecisionsPerTick: Int = 50_000) {
            self.misfireGrace = misfireGrace
            self.batchSize = batchSize
            self.maxDecisionsPerTick = maxDecisionsPerTick
        }
    }

    /// What one tick did.
    public struct TickSummary: Sendable, Hashable {
        /// Attempts claimed and handed to the dispatcher.
        public var claimed = 0
        /// Occurrences skipped (misfire or overlap).
        public var skipped = 0
        /// Decisions refused or lost to a concurrent change (tried again next tick).
        public var deferred = 0
        /// Whether due attempts were left for lack of dispatcher slots or the tick's bound.
        public var moreDue = false
    }

    private let journal: any Journal
    private let store: ProjectionStore
    private let dispatcher: RunDispatcher
    private let commands: CommandService
    private let clock: any WallClock
    private let configuration: Configuration
    private let logger: Logger

    /// Creates a scheduler.
    public init(
        journal: any Journal,
        store: ProjectionStore,
        dispatcher: RunDispatcher,
        commands: CommandService,
        clock: any WallClock,
        configuration: Configuration = Configuration(),
        logger: Logger
    ) {
        self.journal = journal
        self.store = store
        self.dispatcher = dispatcher
        self.commands = commands
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    /// Recovers, then loops: tick, then sleep until the next due attempt or a change.
    public func run() async throws {
        try await recoverInterruptedRuns()
        while !Task.isCancelled {
            let now = clock.now()
            let summary = try await tick(now: now)
            let progressed = summary.claimed + summary.skipped > 0
            if summary.moreDue && progressed && dispatcher.freeSlots > 0 { continue }
            let position = await store.position
            let next: Instant?
            if !summary.moreDue {
                next = await store.nextDue()?.dueAt
            } else if progressed || dispatcher.running > 0 {
                next = nil  // waiting for a slot: a run's outcome is a change and wakes the loop
            } else {
                next = now + .seconds(1)  // refused attempts: look again shortly
            }
            await waitForWork(until: next, after: position)
        }
    }

    /// Fails every attempt left in flight by a previous process as interrupted (retrying it
    /// per its task's policy, under the same idempotency key). Call once, before claiming.
    public func recoverInterruptedRuns() async throws {
        try await store.catchUp()
        for (id, state) in await store.tasks where !state.inFlight.isEmpty {
            do {
                try await commands.execute(TaskCommand(
                    taskID: id, actor: "scheduler", reason: "recovered at start", action: .recoverRuns
                ))
            } catch {
                logger.error("recovery failed", metadata: ["task.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Claims or skips every attempt due at `now` (as dispatcher slots allow) and hands the
    /// claims to the dispatcher.
    @discardableResult
    public func tick(now: Instant) async throws -> TickSummary {
        try await store.catchUp()
        var summary = TickSummary()
        var decisions = 0
        while decisions < configuration.maxDecisionsPerTick {
            let free = dispatcher.freeSlots
            let entries = await store.due(at: now, limit: configuration.batchSize)
            if entries.isEmpty { return summary }
            // Decisions carry the instant they are made, so a long tick records honest lateness.
            let decidedAt = max(now, clock.now())
            let (requests, planned) = await decide(entries, now: decidedAt, freeSlots: free)
            decisions += entries.count
            if requests.isEmpty {
                // Everything due is a claim waiting for a free slot (or was refused).
                summary.moreDue = true
                summary.deferred += entries.count
                return summary
            }
            let results = await journal.append(requests)
            var started: [RunRequest] = []
            for (result, plan) in zip(results, planned) {
                switch result {
                case .success:
                    for event in plan.events {
                        switch event.kind {
                        case .runStarted(let start):
                            started.append(RunRequest(
                                taskID: plan.task, start: start, action: plan.action, firedAt: clock.now()
                            ))
                        case .occurrenceSkipped:
                            summary.skipped += 1
                        default:
                            break
                        }
                    }
                case .failure(let error):
                    summary.deferred += 1
                    if error.code != .wrongExpectedVersion { throw error }
                }
            }
            summary.claimed += started.count
            // Apply the claims before handing them over: an attempt can finish at once, and
            // its outcome is decided on the projection, which must already hold its claim.
            try await store.catchUp()
            dispatcher.dispatch(started)
            if planned.count < entries.count { summary.moreDue = true }
        }
        summary.moreDue = true
        return summary
    }

    private struct Plan: Sendable {
        let task: TaskID
        let action: WebhookAction
        let events: [TaskEvent]
    }

    /// Decides each due entry on its task's state, chaining decisions for the same task so
    /// they can share one commit. Claims stop when the dispatcher has no free slot.
    ///
    /// The decisions run on the store, reading the projection in place: one hop for the whole
    /// batch, and no copy of a task's state unless the batch holds a second entry of it.
    private func decide(_ entries: [DueEntry], now: Instant, freeSlots: Int) async -> ([AppendRequest], [Plan]) {
        let configuration = self.configuration
        let logger = self.logger
        return await store.read { projection in
            Self.decide(entries, in: projection, now: now, freeSlots: freeSlots, configuration: configuration, logger: logger)
        }
    }

    private static func decide(
        _ entries: [DueEntry], in projection: borrowing Projection, now: Instant, freeSlots: Int,
        configuration: Configuration, logger: Logger
    ) -> ([AppendRequest], [Plan]) {
        var slots = freeSlots
        let decisions = ChainedDecisions.decide(
            entries, in: projection, now: now, task: \.taskID,
            command: { entry, state in
                let action = MisfirePlanner.action(
                    for: entry.occurrence, attempt: entry.attempt, dueAt: entry.dueAt,
                    state: state, now: now, grace: configuration.misfireGrace
                )
                if case .startRun = action, slots == 0 { return nil }
                return TaskCommand(taskID: entry.taskID, actor: "scheduler", action: action)
            },
            accept: { events in
                if events.contains(where: { if case .runStarted = $0.kind { true } else { false } }) { slots -= 1 }
                return true
            },
            refused: { entry, error in
                logger.debug("due attempt refused", metadata: ["task.id": "\(entry.taskID)", "error": "\(error)"])
            }
        )
        return (
            decisions.map(\.request),
            decisions.map { Plan(task: $0.state.id, action: $0.state.definition.action, events: $0.events) }
        )
    }

    /// Sleeps until `deadline` (if any) or until events after `position` are applied,
    /// whichever comes first.
    private func waitForWork(until deadline: Instant?, after position: UInt64) async {
        await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { try? await self.clock.sleep(until: deadline) }
            }
            group.addTask { try? await self.store.waitForChange(after: position) }
            await group.next()
            group.cancelAll()
        }
    }
}
