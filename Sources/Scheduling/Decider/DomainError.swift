/// A command the rules refuse; nothing is recorded for it.
public struct DomainError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A stable name for the code.
        public let rawValue: String
        /// Creates a code.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No task has this id.
        public static let taskNotFound = Code("taskNotFound")
        /// A task with this id exists (or existed) with another definition.
        public static let taskAlreadyExists = Code("taskAlreadyExists")
        /// The task was deleted.
        public static let taskDeleted = Code("taskDeleted")
        /// The task completed; update it to give it new occurrences.
        public static let taskCompleted = Code("taskCompleted")
        /// The task is paused.
        public static let taskPaused = Code("taskPaused")
        /// The task is not paused.
        public static let taskNotPaused = Code("taskNotPaused")
        /// The definition breaks a rule (for example a one-time instant in the past).
        public static let invalidDefinition = Code("invalidDefinition")
        /// The occurrence is not due (not yet, or not an occurrence of this task).
        public static let occurrenceNotDue = Code("occurrenceNotDue")
        /// The attempt was already claimed.
        public static let runAlreadyStarted = Code("runAlreadyStarted")
        /// The run is not in flight.
        public static let runNotRunning = Code("runNotRunning")
    }

    /// What was refused.
    public let code: Code
    /// The task concerned.
    public let taskID: TaskID
    /// A sentence saying why, and what to do.
    public let message: String

    /// Creates a refusal.
    public init(_ code: Code, _ taskID: TaskID, _ message: String) {
        self.code = code
        self.taskID = taskID
        self.message = message
    }

    public var description: String { "task \(taskID): \(message)" }
}
