/// Where a task stands in its life.
public enum TaskStatus: String, Sendable, Hashable, CaseIterable {
    /// Occurrences are claimed as they fall due.
    case active
    /// Occurrences are not claimed; manual triggers still run.
    case paused
    /// The schedule has no further occurrence and nothing is pending.
    case completed
    /// The task was deleted; its history stays in the journal.
    case deleted
}

/// An attempt waiting to be claimed: a retry or a manual trigger.
public struct PendingAttempt: Sendable, Hashable {
    /// The occurrence.
    public var occurrence: OccurrenceID
    /// Its scheduled instant.
    public var scheduledAt: Instant
    /// The attempt number.
    public var attempt: Int
    /// When it is due.
    public var dueAt: Instant
    /// Scheduled (then this is a retry) or manual.
    public var kind: OccurrenceKind
    /// Whether this is a retry (attempt > 1) rather than a first attempt.
    public var isRetry: Bool { attempt > 1 }
}

/// Run counters of a task.
public struct RunCounts: Sendable, Hashable {
    /// Attempts started.
    public var runs = 0
    /// Attempts that succeeded.
    public var succeeded = 0
    /// Attempts that failed (interrupted ones included).
    public var failed = 0
    /// Occurrences (or attempts) skipped.
    public var skipped = 0

    /// Creates counters.
    public init(runs: Int = 0, succeeded: Int = 0, failed: Int = 0, skipped: Int = 0) {
        self.runs = runs
        self.succeeded = succeeded
        self.failed = failed
        self.skipped = skipped
    }
}

/// The last finished attempt of a task.
///
/// Kept without its run id as text (a million tasks would each hold one): the id is derived
/// from the task, the occurrence's scheduled instant and the attempt, as ``RunID`` and
/// ``OccurrenceID/scheduled(_:at:)`` write it; only an id of another form (a manual
/// trigger's) keeps its text.
public struct LastRun: Sendable, Hashable {
    /// How an attempt ended.
    public enum Result: String, Sendable, Hashable, CaseIterable {
        case succeeded, failed, interrupted, skipped
    }

    /// The occurrence's text when it is not the task's scheduled occurrence at
    /// `scheduledAt`; the whole run id when that has no `#<attempt>` form (`attempt` -1).
    var text: String?
    /// The scheduled occurrence's instant, in microseconds.
    var scheduledAt: Int64 = 0
    /// When it ended.
    public var at: Instant
    var attempt: Int32 = -1
    var status: Int32
    /// How it ended.
    public var result: Result

    /// The last attempt of `task`: the run `run`, ended at `at` with `result`.
    public init(run: RunID, of task: TaskID, result: Result, at: Instant, statusCode: Int?) {
        self.result = result
        self.at = at
        self.status = statusCode.map { Int32(clamping: $0) } ?? .min
        guard let (occurrence, attempt) = RunIDText.split(run), let attempt32 = Int32(exactly: attempt), attempt32 >= 0 else {
            text = run.rawValue
            return
        }
        self.attempt = attempt32
        if let micros = OccurrenceText.scheduledInstant(occurrence, of: task) {
            scheduledAt = micros
        } else {
            text = String(Substring(occurrence))
        }
    }

    /// A last run from its stored parts (`TaskStateCodec`).
    init(text: String?, scheduledAt: Int64, attempt: Int32, result: Result, at: Instant, status: Int32) {
        self.text = text
        self.scheduledAt = scheduledAt
        self.attempt = attempt
        self.result = result
        self.at = at
        self.status = status
    }

    /// The attempt's run id (the task is the one whose last run this is).
    public func run(of task: TaskID) -> RunID {
        guard attempt >= 0 else { return RunID(rawValue: text ?? "") }
        let occurrence = text.map(OccurrenceID.init(rawValue:)) ?? .scheduled(task, at: Instant(microsecondsSinceEpoch: scheduledAt))
        return RunID(occurrence, attempt: Int(attempt))
    }

    /// The HTTP status, if any.
    public var statusCode: Int? {
        get { status == .min ? nil : Int(status) }
        set { status = newValue.map { Int32(clamping: $0) } ?? .min }
    }
}

/// A task as its events made it: the state the decider decides on.
public struct TaskState: Sendable, Hashable {
    /// The task's id.
    public let id: TaskID
    /// The current definition.
    public var definition: TaskDefinition
    /// The number of events in the task's stream (its version for optimistic concurrency).
    public var version: UInt64
    /// When the task was created.
    public var createdAt: Instant
    /// When its definition or status last changed by command.
    public var updatedAt: Instant
    /// The next scheduled occurrence not yet claimed or skipped.
    public var nextDueAt: Instant?
    /// Where the task stands. (Declared after `nextDueAt`, whose presence flag leaves room
    /// for it: 8 bytes less per task than after `definition`.)
    public var status: TaskStatus
    /// Attempts started and not finished.
    public var inFlight = InFlightRuns()
    /// Retries and manual triggers waiting to be claimed.
    public var pending = PendingAttempts()
    /// Run counters.
    public var counts = RunCounts()
    /// The last finished attempt.
    public var lastRun: LastRun?
    /// Every manual trigger id the task has used, so a repeated trigger request does nothing
    /// however long afterwards: a trigger id names one occurrence, which runs once.
    public var usedTriggers: Set<String> = []

    /// Creates the state a `TaskCreated` event makes.
    public init(id: TaskID, definition: TaskDefinition, createdAt: Instant, nextDueAt: Instant?) {
        self.id = id
        self.definition = definition
        self.status = .active
        self.version = 1
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.nextDueAt = nextDueAt
    }

    /// The scheduled occurrence that is next due, if any.
    public var nextScheduledOccurrence: OccurrenceID? {
        nextDueAt.map { OccurrenceID.scheduled(id, at: $0) }
    }
}
