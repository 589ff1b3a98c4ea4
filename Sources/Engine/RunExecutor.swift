public import Scheduling

/// One attempt handed to an executor.
public struct RunRequest: Sendable, Hashable {
    /// The task.
    public let taskID: TaskID
    /// The claim.
    public let start: RunStart
    /// What to do.
    public let action: WebhookAction
    /// When the executor was handed the attempt.
    public let firedAt: Instant

    /// Creates a request.
    public init(taskID: TaskID, start: RunStart, action: WebhookAction, firedAt: Instant) {
        self.taskID = taskID
        self.start = start
        self.action = action
        self.firedAt = firedAt
    }
}

/// How an attempt ended.
public enum RunResult: Sendable, Hashable {
    /// A 2xx response.
    case succeeded(RunOutcome)
    /// Anything else: another status, a timeout, a connection error.
    case failed(RunOutcome)
}

/// Performs attempts (calls webhooks).
public protocol RunExecutor: Sendable {
    /// Performs one attempt and reports how it ended; never throws.
    func execute(_ request: RunRequest) async -> RunResult
}
