/// Something that happened to a task: a storage contract.
///
/// Every kind has a stable type name and schema version (``Kind/typeName``); names are never
/// renamed or reused, and a payload change adds a schema version with an upcaster in
/// ``EventCodec``. The catalogue is `docs/events.md`. Events record what was decided at the
/// time — including the next due instant — so replay never re-evaluates a schedule.
public struct TaskEvent: Sendable, Hashable {
    /// The task (and journal stream) the event belongs to.
    public var taskID: TaskID
    /// When it was decided (the journal's recorded-at).
    public var at: Instant
    /// Who caused it: a token's name, or `scheduler` for the engine's own decisions.
    public var actor: String
    /// Why, when the actor said.
    public var reason: String?
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(taskID: TaskID, at: Instant, actor: String, reason: String? = nil, kind: Kind) {
        self.taskID = taskID
        self.at = at
        self.actor = actor
        self.reason = reason
        self.kind = kind
    }

    /// What happened, with its data.
    public enum Kind: Sendable, Hashable {
        /// `TaskCreated` v1: a task was registered; `nextDueAt` is its first occurrence.
        case created(TaskDefinition, nextDueAt: Instant?)
        /// `TaskUpdated` v1: the definition was replaced; `nextDueAt` is computed from the update's instant.
        case updated(TaskDefinition, nextDueAt: Instant?)
        /// `TaskPaused` v1: occurrences stop being claimed.
        case paused
        /// `TaskResumed` v1: claiming resumes at `nextDueAt`, the first occurrence after the resume.
        case resumed(nextDueAt: Instant?)
        /// `TaskDeleted` v1: the task is gone; its history stays.
        case deleted
        /// `RunTriggered` v1: a manual occurrence was requested, due at once.
        case runTriggered(trigger: String, occurrence: OccurrenceID)
        /// `RunStarted` v1: an attempt of an occurrence was claimed (exactly once per attempt).
        case runStarted(RunStart)
        /// `RunSucceeded` v1: an attempt got a 2xx response.
        case runSucceeded(run: RunID, outcome: RunOutcome)
        /// `RunFailed` v1: an attempt failed (a non-2xx status, a timeout, a connection error,
        /// or `interrupted` by a crash or shutdown).
        case runFailed(run: RunID, outcome: RunOutcome, interrupted: Bool)
        /// `RunRetryScheduled` v1: attempt `attempt` of the occurrence will be due at `dueAt`.
        case runRetryScheduled(RetrySchedule)
        /// `OccurrenceSkipped` v1: an occurrence (or a pending attempt of it) will not run.
        case occurrenceSkipped(Skip)
        /// `TaskCompleted` v1: the schedule has no further occurrence and nothing is pending.
        case completed

        /// The stable type name stored in the journal.
        public var typeName: String {
            switch self {
            case .created: "TaskCreated"
            case .updated: "TaskUpdated"
            case .paused: "TaskPaused"
            case .resumed: "TaskResumed"
            case .deleted: "TaskDeleted"
            case .runTriggered: "RunTriggered"
            case .runStarted: "RunStarted"
            case .runSucceeded: "RunSucceeded"
            case .runFailed: "RunFailed"
            case .runRetryScheduled: "RunRetryScheduled"
            case .occurrenceSkipped: "OccurrenceSkipped"
            case .completed: "TaskCompleted"
            }
        }
    }
}

/// Where an occurrence comes from. (An attempt number above 1 marks a retry of either.)
public enum OccurrenceKind: String, Sendable, Hashable {
    /// The schedule's own occurrence.
    case scheduled
    /// A manual trigger.
    case manual
}

/// The data of `RunStarted`.
public struct RunStart: Sendable, Hashable {
    /// The attempt's id.
    public var run: RunID
    /// The occurrence it is an attempt of.
    public var occurrence: OccurrenceID
    /// The occurrence's scheduled instant (for a manual trigger, when it was triggered).
    public var scheduledAt: Instant
    /// When this attempt was due: the scheduled instant, or a retry's due instant.
    public var dueAt: Instant
    /// 1 for the first attempt.
    public var attempt: Int
    /// Scheduled or manual.
    public var occurrenceKind: OccurrenceKind
    /// The task's next scheduled occurrence after this claim.
    public var nextDueAt: Instant?

    /// Creates the data of a claim.
    public init(
        run: RunID,
        occurrence: OccurrenceID,
        scheduledAt: Instant,
        dueAt: Instant,
        attempt: Int,
        occurrenceKind: OccurrenceKind,
        nextDueAt: Instant?
    ) {
        self.run = run
        self.occurrence = occurrence
        self.scheduledAt = scheduledAt
        self.dueAt = dueAt
        self.attempt = attempt
        self.occurrenceKind = occurrenceKind
        self.nextDueAt = nextDueAt
    }
}

/// What a finished attempt reported.
public struct RunOutcome: Sendable, Hashable {
    /// The HTTP status, if a response arrived.
    public var statusCode: Int?
    /// How long the call took.
    public var duration: Duration?
    /// The first bytes of the response body (at most 4 KiB), as text.
    public var responseExcerpt: String?
    /// What went wrong, for a failure.
    public var error: String?

    /// Creates an outcome.
    public init(statusCode: Int? = nil, duration: Duration? = nil, responseExcerpt: String? = nil, error: String? = nil) {
        self.statusCode = statusCode
        self.duration = duration
        self.responseExcerpt = responseExcerpt
        self.error = error
    }
}

/// The data of `RunRetryScheduled`.
public struct RetrySchedule: Sendable, Hashable {
    /// The occurrence to retry.
    public var occurrence: OccurrenceID
    /// Its scheduled instant.
    public var scheduledAt: Instant
    /// The attempt number of the retry (2 for the first retry).
    public var attempt: Int
    /// When the retry is due.
    public var dueAt: Instant
    /// Scheduled or manual.
    public var occurrenceKind: OccurrenceKind

    /// Creates the data of a scheduled retry.
    public init(occurrence: OccurrenceID, scheduledAt: Instant, attempt: Int, dueAt: Instant, occurrenceKind: OccurrenceKind) {
        self.occurrence = occurrence
        self.scheduledAt = scheduledAt
        self.attempt = attempt
        self.dueAt = dueAt
        self.occurrenceKind = occurrenceKind
    }
}

/// Why an occurrence did not run.
public struct SkipReason: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Found due too late; the task's misfire policy skipped it.
    public static let misfire = SkipReason(rawValue: "misfire")
    /// A run of the task was in flight and the task forbids overlap.
    public static let overlap = SkipReason(rawValue: "overlap")
    /// The task was paused, or deleted, while the attempt waited.
    public static let paused = SkipReason(rawValue: "paused")
    /// The task was deleted while the attempt waited.
    public static let deleted = SkipReason(rawValue: "deleted")
}

/// The data of `OccurrenceSkipped`.
public struct Skip: Sendable, Hashable {
    /// The occurrence skipped.
    public var occurrence: OccurrenceID
    /// Its scheduled instant.
    public var scheduledAt: Instant
    /// The attempt that was skipped (1 unless a retry was).
    public var attempt: Int
    /// Why.
    public var reason: SkipReason
    /// Scheduled or manual.
    public var occurrenceKind: OccurrenceKind
    /// The task's next scheduled occurrence after this one.
    public var nextDueAt: Instant?

    /// Creates the data of a skip.
    public init(
        occurrence: OccurrenceID,
        scheduledAt: Instant,
        attempt: Int,
        reason: SkipReason,
        occurrenceKind: OccurrenceKind,
        nextDueAt: Instant?
    ) {
        self.occurrence = occurrence
        self.scheduledAt = scheduledAt
        self.attempt = attempt
        self.reason = reason
        self.occurrenceKind = occurrenceKind
        self.nextDueAt = nextDueAt
    }
}
