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
    ///
    /// Batches are pipelined: while one batch's group commit is being written (on the journal's
    /// writer thread), the next batch is found and decided, leaving out the attempts already
    /// decided. A decision made on a task whose earlier decision is not applied yet fails its
    /// expected version and is decided again at the next tick.
    @discardableResult
    public func tick(now: Instant) async throws -> TickSummary {
        try await store.catchUp()
        var summary = TickSummary()
        var decisions = 0
        var previous: Batch?
        while decisions < configuration.maxDecisionsPerTick {
            let free = dispatcher.freeSlots - (previous?.claims ?? 0)
            // Decisions carry the instant they are made, so a long tick records honest lateness.
            let decidedAt = max(now, clock.now())
            let configuration = self.configuration
            let logger = self.logger
            let (entries, (requests, planned)) = await store.due(
                at: now, limit: configuration.batchSize, excluding: previous?.entries ?? []
            ) { entries, projection in
                Self.decide(entries, in: projection, now: decidedAt, freeSlots: max(0, free), configuration: configuration, logger: logger)
            }
            if entries.isEmpty || requests.isEmpty, let batch = previous {
                // Applying the batch in flight may make more attempts due (a task's next
                // occurrence after a skip), or free no slot: look again once it is applied.
                previous = nil
                try await finish(batch, into: &summary)
                continue
            }
            if entries.isEmpty { return summary }
            decisions += entries.count
            if requests.isEmpty {
                // Everything due is a claim waiting for a free slot (or was refused).
                summary.moreDue = true
                summary.deferred += entries.count
                return summary
            }
            let journal = self.journal
            let batch = Batch(
                entries: Set(entries), planned: planned,
                claims: planned.reduce(0) { $0 + $1.events.count { if case .runStarted = $0.kind { true } else { false } } },
                appending: Task { await journal.append(requests) }
            )
            if let earlier = previous {
                do {
                    try await finish(earlier, into: &summary)
                } catch {
                    // The new batch's claims will be durable whatever happens: apply and hand
                    // them over before giving up, or they would sit in flight until a restart.
                    try? await finish(batch, into: &summary)
                    throw error
                }
            }
            previous = batch
            if planned.count < entries.count { summary.moreDue = true }
        }
        if let batch = previous {
            previous = nil
            try await finish(batch, into: &summary)
        }
        summary.moreDue = true
        return summary
    }

    /// A batch whose decisions are being appended.
    private struct Batch: Sendable {
        /// The due entries it decided (left out of the next batch).
        let entries: Set<DueEntry>
        let planned: [Plan]
        /// How many dispatcher slots its claims will take.
        let claims: Int
        let appending: Task<[Result<AppendResult, JournalError>], Never>
    }

    /// Waits for a batch's append, applies it, and hands its claims to the dispatcher.
    private func finish(_ batch: Batch, into summary: inout TickSummary) async throws {
        let results = await batch.appending.value
        let firedAt = clock.now()
        var started: [RunRequest] = []
        var failure: JournalError?
        for (result, plan) in zip(results, batch.planned) {
            switch result {
            case .success:
                for event in plan.events {
                    switch event.kind {
                    case .runStarted(let start):
                        started.append(RunRequest(taskID: plan.task, start: start, action: plan.action, firedAt: firedAt))
                    case .occurrenceSkipped:
                        summary.skipped += 1
                    default:
                        break
                    }
                }
            case .failure(let error):
                summary.deferred += 1
                if error.code != .wrongExpectedVersion { failure = error }
            }
        }
        summary.claimed += started.count
        // Apply the claims before handing them over: an attempt can finish at once, and its
        // outcome is decided on the projection, which must already hold its claim.
        try await store.catchUp()
        dispatcher.dispatch(started)
        if let failure { throw failure }
    }

    private struct Plan: Sendable {
        let task: TaskID
        let action: WebhookAction
        let events: [TaskEvent]
    }

    /// Decides each due entry on its task's state, chaining decisions for the same task so
    /// they can share one commit. Claims stop when the dispatcher has no free slot.
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
