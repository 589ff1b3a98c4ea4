/// Everything a person states about a task: replaced whole by an update.
public struct TaskDefinition: Sendable, Hashable {
    /// A short name, 1 to 200 characters.
    public var name: String
    /// Free text.
    public var description: String
    /// Labels for filtering, such as `team: billing`.
    public var labels: [String: String]
    /// When occurrences fall.
    public var schedule: Schedule
    /// What each occurrence does.
    public var action: WebhookAction
    /// How failures are retried.
    public var retry: RetryPolicy
    /// Whether runs may overlap.
    public var overlap: OverlapPolicy
    /// What happens to occurrences found long overdue.
    public var misfire: MisfirePolicy
    /// The tenant the task belongs to; fixed when the task is created.
    public var namespace: String

    /// The namespace of tasks created without one.
    public static let defaultNamespace = "default"

    /// Creates a definition.
    public init(
        name: String,
        description: String = "",
        labels: [String: String] = [:],
        schedule: Schedule,
        action: WebhookAction,
        retry: RetryPolicy = RetryPolicy(),
        overlap: OverlapPolicy = .allow,
        misfire: MisfirePolicy = .runOnce,
        namespace: String = TaskDefinition.defaultNamespace
    ) {
        self.namespace = namespace
        self.name = name
        self.description = description
        self.labels = labels
        self.schedule = schedule
        self.action = action
        self.retry = retry
        self.overlap = overlap
        self.misfire = misfire
    }
}
