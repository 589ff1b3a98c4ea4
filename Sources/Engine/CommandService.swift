public import Journal
public import Scheduling
public import Projections

/// The only write path: decides a command on the task's current state, appends the events
/// with the task's version as the expected version (deciding again on a conflict), and
/// returns once they are durable and applied.
public struct CommandService: Sendable {
    /// What a command did.
    public struct Outcome: Sendable, Hashable {
        /// The events appended (empty when the command had already taken effect).
        public let events: [TaskEvent]
        /// The task's version afterwards (its ETag).
        public let version: UInt64
        /// The journal position of the last event appended, or the store's position.
        public let position: UInt64
        /// The task's state once the events were applied (read in the same step), or the
        /// state the command found when it had already taken effect.
        public let state: TaskState?
    }

    let journal: any Journal
    let store: ProjectionStore
    let clock: any WallClock
    /// Commands on one task take turns (races left: the scheduler's claims, other processes).
    let queue = TaskQueue()
    /// How often a command is decided again after losing a race for its task.
    let maxAttempts = 8

    /// Creates a command service.
    public init(journal: any Journal, store: ProjectionStore, clock: any WallClock) {
        self.journal = journal
        self.store = store
        self.clock = clock
    }

    /// Executes `command`: throws ``DomainError`` when the rules refuse it (nothing is
    /// appended) and ``JournalError`` when storage fails.
    ///
    /// With `expectedVersion` (an `If-Match`), the command is decided only on that version of
    /// the task: any other version, before or during the append, throws ``VersionMismatch``.
    ///
    /// `check`, when given, runs on the projection in the same step as the task's state is
    /// read, before each decision; what it throws refuses the command (nothing appended). A
    /// create checks its namespace's task count this way, with no step of its own on the store.
    @discardableResult
    public func execute(
        _ command: TaskCommand, expectedVersion: UInt64? = nil,
        check: (@Sendable (borrowing Projection) throws -> Void)? = nil
    ) async throws -> Outcome {
        try await queue.exclusively(command.taskID) {
            try await decideAndAppend(command, expectedVersion: expectedVersion, check: check)
        }
    }

    private func decideAndAppend(
        _ command: TaskCommand, expectedVersion: UInt64?, check: (@Sendable (borrowing Projection) throws -> Void)?
    ) async throws -> Outcome {
        for _ in 0..<maxAttempts {
            var state: TaskState?
            if let check {
                state = try await store.read { projection in
                    try check(projection)
                    return projection.tasks[command.taskID]
                }
            } else {
                state = await store.state(of: command.taskID)
            }
            if let expectedVersion, let current = state, current.version < expectedVersion {
                // The caller may have seen a version (on the event stream, say) that this
                // process's projection has not applied yet: catch up before judging.
                try await store.catchUp()
                state = await store.state(of: command.taskID)
            }
            if let expectedVersion, let state, state.version != expectedVersion {
                throw VersionMismatch(taskID: command.taskID, expected: expectedVersion, actual: state.version)
            }
            let events = try TaskDecider.decide(command, state: state, now: clock.now())
            guard !events.isEmpty else {
                return Outcome(events: [], version: state?.version ?? 0, position: await store.position, state: state)
            }
            let request = AppendRequest(events, decidedOn: state, task: command.taskID)
            switch await journal.append([request])[0] {
            case .success(let result):
                let after = try await store.apply(appended: [events], results: [.success(result)]) { $0.tasks[command.taskID] }
                return Outcome(events: events, version: result.streamVersion, position: result.lastPosition, state: after)
            case .failure(let error) where error.code == .wrongExpectedVersion && expectedVersion != nil:
                try await store.catchUp()
                let actual = await store.state(of: command.taskID)?.version ?? 0
                throw VersionMismatch(taskID: command.taskID, expected: expectedVersion!, actual: actual)
            case .failure(let error) where error.code == .wrongExpectedVersion:
                // Another writer changed the task first: see its events, then decide again.
                try await store.catchUp()
            case .failure(let error):
                throw error
            }
        }
        throw JournalError(
            code: .wrongExpectedVersion,
            message: "task \(command.taskID) kept changing while the command was decided; try again",
            streamID: StreamID(command.taskID.rawValue)
        )
    }
}

extension CommandService {
    /// How one command of a batch ended.
    public enum BatchResult: Sendable, Hashable {
        /// Appended and applied, or nothing to do (it had already taken effect).
        case done
        /// The rules refused it: nothing was appended.
        case refused(String)
        /// It lost a race for its task (or the append failed): try it again on its own.
        case retry
    }

    /// Decides `commands` together on the store (one hop; commands on the same task chained),
    /// appends them in one call (one group commit), and applies them. Nothing waits for the
    /// per-task queue: a command that loses a race for its task comes back as `.retry`, for
    /// ``execute(_:expectedVersion:)``, which decides it again. Used for run outcomes, which
    /// arrive by the thousand in a burst.
    public func executeBatch(_ commands: [TaskCommand]) async -> [BatchResult] {
        guard !commands.isEmpty else { return [] }
        let now = clock.now()
        var results = [BatchResult](repeating: .done, count: commands.count)
        let (decisions, refusals) = await store.read { projection in
            var refusals: [(Int, String)] = []
            let decisions = ChainedDecisions.decide(
                Array(commands.indices), in: projection, now: now, task: { commands[$0].taskID },
                command: { index, _ in commands[index] },
                refused: { index, error in refusals.append((index, "\(error)")) }
            )
            return (decisions, refusals)
        }
        for (index, reason) in refusals { results[index] = .refused(reason) }
        guard !decisions.isEmpty else { return results }
        let appended = await journal.append(decisions.map(\.request))
        var last: UInt64 = 0
        for (decision, result) in zip(decisions, appended) {
            switch result {
            case .success(let done): last = max(last, done.lastPosition)
            case .failure: results[decision.index] = .retry
            }
        }
        // What was appended is durable; a failed catch-up leaves it for the next one to apply.
        if last > 0 { try? await store.apply(appended: decisions.map(\.events), results: appended) }
        return results
    }
}

/// A command made on a version of the task that is no longer current (HTTP 412).
public struct VersionMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    /// The task.
    public let taskID: TaskID
    /// The version the caller decided on.
    public let expected: UInt64
    /// The task's version now.
    public let actual: UInt64

    public var description: String {
        "task \(taskID) is at version \(actual), not \(expected): read it again and retry"
    }
}
