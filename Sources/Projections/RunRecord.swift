public import Scheduling

/// One attempt (or one skipped occurrence) as the run log shows it.
///
/// The log keeps its records in a compact form (``RunLog``) and builds these on reading; the
/// run and occurrence ids are derived from the task, the scheduled instant and the attempt.
public struct RunRecord: Sendable, Hashable {
    /// How the attempt stands.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// Claimed, no result yet.
        case running
        /// A 2xx response.
        case succeeded
        /// Failed, with no retry left.
        case failed
        /// Failed; a retry is scheduled.
        case retrying
        /// In flight when Almanac stopped.
        case interrupted
        /// Not run (see ``RunRecord/skipReason``).
        case skipped
    }

    /// The task.
    public var task: TaskID
    /// The occurrence (the idempotency key receivers see).
    public var occurrence: OccurrenceID
    /// The occurrence's scheduled instant.
    public var scheduledAt: Instant
    /// When this attempt was due.
    public var dueAt: Instant
    /// When it was claimed (for a skip: when it was skipped).
    public var startedAt: Instant
    /// When it finished.
    public var finishedAt: Instant?
    /// The attempt number, 1 for the first.
    public var attempt: Int
    /// How it stands.
    public var outcome: Outcome
    /// The HTTP status, if any.
    public var statusCode: Int?
    /// How long the call took, in whole microseconds (as the journal stores it).
    public var duration: Duration?
    /// What went wrong (read from the journal: ``withDetails(_:from:)``).
    public var error: String?
    /// The start of the response body (read from the journal).
    public var responseExcerpt: String?
    /// Why it was skipped (read from the journal).
    public var skipReason: SkipReason?
    /// The journal position of the event that holds the error, the response excerpt or the
    /// skip reason; nil when there is none. The run log keeps this rather than the texts.
    public var detailPosition: UInt64?

    /// A record of `task`'s attempt `attempt` of `occurrence`, with no result yet.
    public init(
        task: TaskID, occurrence: OccurrenceID, scheduledAt: Instant, dueAt: Instant, startedAt: Instant,
        attempt: Int, outcome: Outcome
    ) {
        self.task = task
        self.occurrence = occurrence
        self.scheduledAt = scheduledAt
        self.dueAt = dueAt
        self.startedAt = startedAt
        self.attempt = attempt
        self.outcome = outcome
    }

    /// The attempt's id.
    public var run: RunID { RunID(occurrence, attempt: attempt) }

    /// How late the claim was: claimed minus due.
    public var lateness: Duration { startedAt - dueAt }
}
