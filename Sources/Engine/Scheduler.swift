public import Journal
public import Logging
public import Projections
public import Scheduling
public import ServiceLifecycle
import Synchronization

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
        /// Cluster nodes: how long after its start plus its task's webhook timeout a run found
        /// in flight in a shard just taken over is recovered as interrupted. By then its
        /// previous owner, if it is alive, has recorded its outcome.
        public var recoveryMargin: Duration

        /// Creates settings; the defaults suit a server.
        public init(
            misfireGrace: Duration = .seconds(60), batchSize: Int = 4096, maxDecisionsPerTick: Int = 50_000,
            recoveryMargin: Duration = .seconds(5)
        ) {
            self.recoveryMargin = recoveryMargin
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
    /// The shards this node may claim in.
    private let assignment: ShardAssignment
    /// The shards the scheduler claims in now: held, recovered, and not being handed back.
    private let claiming = Mutex(ShardSet())
    /// Runs found in flight in shards taken over, their tasks, and when to recover them.
    private let orphans = Mutex<[RunID: (task: TaskID, at: Instant)]>([:])
    private let partitioned = Mutex(false)

    /// Creates a scheduler; it claims in the shards `assignment` grants (by default, all).
    public init(
        journal: any Journal,
        store: ProjectionStore,
        dispatcher: RunDispatcher,
        commands: CommandService,
        clock: any WallClock,
        configuration: Configuration = Configuration(),
        assignment: ShardAssignment = .sole(),
        logger: Logger
    ) {
        self.assignment = assignment
        self.journal = journal
        self.store = store
        self.dispatcher = dispatcher
        self.commands = commands
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    /// Loops: takes up the shards granted (recovering what their previous owner left in
    /// flight), ticks, then sleeps until the next due attempt or a change.
    public func run() async throws {
        // Outcomes wait while ticks follow each other back to back (``ClaimsFirst``).
        var claimingOn = false
        defer { if claimingOn { dispatcher.claimsFirst.claimingEnded() } }
        while !Task.isCancelled {
            let generation: UInt64
            let recoverAt: Instant?
            let now: Instant
            let summary: TickSummary
            do {
                (generation, recoverAt) = try await takeUpShards()
                now = clock.now()
                if !claimingOn { dispatcher.claimsFirst.claimingStarted() }
                claimingOn = true
                summary = try await tick(now: now)
            } catch let error as JournalError where error.code == .unavailable {
                // The journal's database is out of reach: nothing can be claimed or recorded
                // until it is back. Look again in a second; what fell due meanwhile is then
                // handled by each task's misfire policy.
                logger.warning("scheduler paused: the journal is unavailable", metadata: ["error": "\(error)"])
                if claimingOn { dispatcher.claimsFirst.claimingEnded() }
                claimingOn = false
                try await clock.sleep(until: clock.now() + .seconds(1))
                continue
            }
            let progressed = summary.claimed + summary.skipped > 0
            if summary.moreDue && progressed && dispatcher.freeSlots > 0 { continue }
            // Outcomes go through while the loop waits.
            dispatcher.claimsFirst.claimingEnded()
            claimingOn = false
            let position = await store.position
            var next: Instant?
            if !summary.moreDue {
                let shards = shardFilter()
                next = shards?.isEmpty == true ? nil : await store.nextDue(in: shards)?.dueAt
            } else if progressed || dispatcher.running > 0 {
                next = nil  // waiting for a slot: a run's outcome is a change and wakes the loop
            } else {
                next = now + .seconds(1)  // refused attempts: look again shortly
            }
            if let recoverAt { next = min(next ?? recoverAt, recoverAt) }
            await waitForWork(until: next, after: position, assignmentAfter: generation)
        }
    }

    /// Brings the shards claimed in up to date with the assignment, between ticks (so every
    /// claim made in a shard is committed before it is handed back):
    ///
    /// - shards lost or to hand back stop being claimed in at once; those to hand back are
    ///   confirmed at once (runs of theirs still running here are recorded here as usual);
    /// - for shards newly held, it catches up with the journal and notes the runs found in
    ///   flight there. A single node recovers them at once (the process that ran them is
    ///   gone); a cluster node recovers each once its task's webhook timeout and a margin
    ///   have passed, since a live previous owner may still be running it and will record
    ///   its outcome by then. Claiming in the shard starts at once.
    ///
    /// Returns the assignment's generation it saw, and when the next recovery falls due.
    private func takeUpShards() async throws -> (generation: UInt64, recoverAt: Instant?) {
        let (view, generation) = assignment.view
        let count = assignment.shardCount
        let wanted = view.held.subtracting(view.releasing)
        let gained = claiming.withLock { claiming in
            claiming = claiming.intersection(wanted)
            return wanted.subtracting(claiming)
        }
        if !view.releasing.isEmpty { assignment.confirmReleased(view.releasing) }
        if !gained.isEmpty {
            if count == 1 {
                try await recoverInterruptedRuns(reason: "recovered at start")
            } else {
                try await store.catchUp()
                let now = clock.now()
                let margin = configuration.recoveryMargin
                // Each run is recovered at its start (from the run log; the takeover instant
                // when it is not there) plus its task's timeout and the margin: a call ends by
                // its timeout wherever it runs, and the deadline does not move when the shard
                // moves again.
                let found = await store.read { projection in
                    projection.tasks.values.flatMap { state -> [(RunID, TaskID, Instant)] in
                        guard !state.inFlight.isEmpty, gained.contains(Shards.shard(of: state.id, count: count)) else { return [] }
                        let records = projection.runLog.records(of: state.id)
                        return state.inFlight.keys.map { run in
                            let started = records.last(where: { $0.run == run })?.startedAt ?? now
                            return (run, state.id, min(started, now) + state.definition.action.timeout + margin)
                        }
                    }
                }
                let noted = orphans.withLock { orphans in
                    var noted = 0
                    for (run, task, at) in found where !dispatcher.isRunning(run) {
                        orphans[run] = (task, at)
                        noted += 1
                    }
                    return noted
                }
                if noted > 0 {
                    logger.info("runs in flight in shards taken over; recovered once their timeout passes", metadata: ["runs": "\(noted)"])
                }
            }
            claiming.withLock { $0 = $0.union(gained) }
            if count > 1 { logger.info("claiming in shards", metadata: ["gained": "\(gained)", "claiming": "\(claiming.withLock { $0 })"]) }
        }
        return (generation, try await recoverOrphans())
    }

    /// Recovers the noted runs whose time has come, in shards still claimed in (a shard lost
    /// meanwhile is its next owner's to recover); returns when the next one falls due. A run
    /// recorded meanwhile (by the node that ran it) is left as it is.
    private func recoverOrphans() async throws -> Instant? {
        let now = clock.now()
        let count = assignment.shardCount
        let claiming = self.claiming.withLock { $0 }
        let due: [(run: RunID, task: TaskID)] = orphans.withLock { orphans in
            orphans = orphans.filter { claiming.contains(Shards.shard(of: $0.value.task, count: count)) }
            let due = orphans.filter { $0.value.at <= now }.map { ($0.key, $0.value.task) }
            for (run, _) in due { orphans[run] = nil }
            return due
        }
        let ordered = due.sorted { $0.run < $1.run }
        for (index, (run, task)) in ordered.enumerated() {
            do {
                try await commands.execute(TaskCommand(
                    taskID: task, actor: "scheduler", reason: "recovered when its shard was taken over", action: .recoverRun(run)
                ))
            } catch let error as JournalError where error.code == .unavailable {
                // Try these again once the journal is back.
                orphans.withLock { orphans in
                    for (later, laterTask) in ordered[index...] { orphans[later] = (laterTask, now + .seconds(1)) }
                }
                throw error
            } catch {
                logger.error("recovery failed", metadata: ["task.id": "\(task)", "run.id": "\(run)", "error": "\(error)"])
            }
        }
        return orphans.withLock { $0.values.map(\.at).min() }
    }

    /// The shards to claim in: nil for all (a single node, which holds its one shard for good
    /// and claims from the first tick; ``run()`` recovers before its first tick).
    private func shardFilter() -> ShardSet? {
        if assignment.shardCount == 1 { return assignment.view.view.held.contains(0) ? nil : ShardSet() }
        return claiming.withLock { $0 }
    }

    /// Fails every attempt left in flight by a previous process as interrupted (retrying it
    /// per its task's policy, under the same idempotency key), for the tasks of `shards`
    /// (nil: every task). Runs this process itself has in flight are left alone. Call before
    /// claiming in those shards.
    public func recoverInterruptedRuns(in shards: ShardSet? = nil, reason: String = "recovered at start") async throws {
        try await store.catchUp()
        let count = assignment.shardCount
        for (id, state) in await store.tasks where !state.inFlight.isEmpty {
            if let shards, !shards.contains(Shards.shard(of: id, count: count)) { continue }
            if dispatcher.hasRuns(where: { $0 == id }) { continue }
            do {
                try await commands.execute(TaskCommand(
                    taskID: id, actor: "scheduler", reason: reason, action: .recoverRuns
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
    /// decided (set aside in the due index until the tick ends). A decision made on a task
    /// whose earlier decision is not applied yet fails its expected version and is decided
    /// again at the next tick. Run outcomes wait for the tick to end before they are recorded,
    /// and in a burst the calls too (``ClaimsFirst``).
    @discardableResult
    public func tick(now: Instant) async throws -> TickSummary {
        dispatcher.claimsFirst.claimingStarted()
        defer { dispatcher.claimsFirst.claimingEnded() }
        // The attempts a tick finds are set aside while it decides them (so the next batch
        // does not find them again), and those still due are put back when it ends.
        await store.releaseReservedDue()
        do {
            let summary = try await claim(now: now)
            await store.releaseReservedDue()
            return summary
        } catch {
            await store.releaseReservedDue()
            throw error
        }
    }

    private func claim(now: Instant) async throws -> TickSummary {
        if !partitioned.withLock({ $0 }) {
            await store.partitionDueIndex(into: assignment.shardCount)
            partitioned.withLock { $0 = true }
        }
        try await store.catchUp()
        var summary = TickSummary()
        let shards = shardFilter()
        if shards?.isEmpty == true { return summary }
        var decisions = 0
        var previous: Batch?
        while decisions < configuration.maxDecisionsPerTick {
            let free = dispatcher.freeSlots - (previous?.claims ?? 0)
            // Decisions carry the instant they are made, so a long tick records honest lateness.
            let decidedAt = max(now, clock.now())
            let configuration = self.configuration
            let logger = self.logger
            let (entries, (requests, planned)) = await store.reserveDue(
                at: now, limit: configuration.batchSize, in: shards
            ) { entries, projection in
                Self.decide(entries, in: projection, now: decidedAt, freeSlots: max(0, free), configuration: configuration, logger: logger)
            }
            if entries.isEmpty || requests.isEmpty, let batch = previous {
                // Applying the batch in flight may make more attempts due (a task's next
                // occurrence after a skip), or free no slot: look again once it is applied,
                // at these attempts too (nothing is in flight now).
                previous = nil
                try await finish(batch, into: &summary)
                await store.releaseReservedDue()
                continue
            }
            if entries.isEmpty { return summary }
            // A full batch: more is due at once than one commit takes. Its calls wait until
            // the burst is claimed (ClaimsFirst).
            if entries.count == configuration.batchSize { dispatcher.claimsFirst.burstFound() }
            decisions += entries.count
            if requests.isEmpty {
                // Everything due is a claim waiting for a free slot (or was refused).
                summary.moreDue = true
                summary.deferred += entries.count
                return summary
            }
            let journal = self.journal
            let batch = Batch(
                planned: planned,
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
        // outcome is decided on the projection, which must already hold its claim. They are
        // this process's own decisions: applied as decided, not read back and decoded.
        try await store.apply(appended: batch.planned.map(\.events), results: results)
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

    /// Sleeps until `deadline` (if any), until events after `position` are applied, or until
    /// the shard assignment changes after `generation`, whichever comes first.
    private func waitForWork(until deadline: Instant?, after position: UInt64, assignmentAfter generation: UInt64) async {
        await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { try? await self.clock.sleep(until: deadline) }
            }
            group.addTask { try? await self.store.waitForChange(after: position) }
            group.addTask { try? await self.assignment.waitForChange(after: generation) }
            await group.next()
            group.cancelAll()
        }
    }
}
