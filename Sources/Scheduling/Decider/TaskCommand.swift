/// A request to change a task: imperative, carrying who asks and why.
public struct TaskCommand: Sendable, Hashable {
    /// The task concerned.
    public var taskID: TaskID
    /// Who asks: a token's name, or `scheduler` for the engine.
    public var actor: String
    /// Why, if the actor said (recorded with the events).
    public var reason: String?
    /// What is asked.
    public var action: Action

    /// Creates a command.
    public init(taskID: TaskID, actor: String, reason: String? = nil, action: Action) {
        self.taskID = taskID
        self.actor = actor
        self.reason = reason
        self.action = action
    }

    /// What a command asks for.
    public enum Action: Sendable, Hashable {
        /// Register a new task.
        case createTask(TaskDefinition)
        /// Replace the task's definition; occurrences are recomputed from now.
        case updateTask(TaskDefinition)
        /// Stop claiming occurrences.
        case pauseTask
        /// Claim again, from the first occurrence after now.
        case resumeTask
        /// Delete the task (its history stays).
        case deleteTask
        /// Run now, once, under a caller-chosen id (repeating the id does nothing).
        case triggerTask(trigger: String)
        /// Claim a due occurrence (or a due retry or trigger of it): the scheduler's command.
        case startRun(OccurrenceID)
        /// Record an attempt's success.
        case completeRun(RunID, RunOutcome)
        /// Record an attempt's failure; a retry follows while attempts remain.
        case failRun(RunID, RunOutcome)
        /// Record that a due occurrence (or attempt) will not run.
        case skipOccurrence(OccurrenceID, SkipReason)
        /// Fail every attempt still in flight as interrupted (after a crash or at shutdown).
        case recoverRuns
        /// Fail one attempt as interrupted if it is still in flight (its node is gone); a
        /// retry follows while attempts remain. Nothing when it is no longer in flight.
        case recoverRun(RunID)
    }
}
