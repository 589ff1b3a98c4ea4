public import Scheduling

/// One attempt (or one skipped occurrence) as the run log shows it.
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

    /// The attempt's id.
    public var run: RunID
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
    /// How long the call took.
    public var duration: Duration?
    /// What went wrong.
    public var error: String?
    /// The start of the response body.
    public var responseExcerpt: String?
    /// Why it was skipped.
    public var skipReason: SkipReason?

    /// How late the claim was: claimed minus due.
    public var lateness: Duration { startedAt - dueAt }
}
