/// The identity of one occurrence of a task: stable across attempts, restarts and replays,
/// and sent to receivers as the idempotency key.
///
/// A scheduled occurrence is `<task>@<scheduled instant in µs>`; a manual trigger is
/// `<task>!<trigger id>`.
public struct OccurrenceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// Wraps stored text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The occurrence of `task` scheduled at `instant`.
    public static func scheduled(_ task: TaskID, at instant: Instant) -> OccurrenceID {
        OccurrenceID(rawValue: "\(task.rawValue)@\(instant.microsecondsSinceEpoch)")
    }

    /// The occurrence a manual trigger of `task` creates.
    public static func manual(_ task: TaskID, trigger: String) -> OccurrenceID {
        OccurrenceID(rawValue: "\(task.rawValue)!\(trigger)")
    }

    public var description: String { rawValue }

    public static func < (lhs: OccurrenceID, rhs: OccurrenceID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The identity of one attempt of an occurrence: `<occurrence>#<attempt>`.
public struct RunID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// Wraps stored text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The run of `occurrence`'s attempt `attempt` (1 for the first).
    public init(_ occurrence: OccurrenceID, attempt: Int) {
        rawValue = "\(occurrence.rawValue)#\(attempt)"
    }

    public var description: String { rawValue }

    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }
}
