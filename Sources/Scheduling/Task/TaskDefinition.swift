/// Everything a person states about a task: replaced whole by an update.
///
/// A value type whose fields live in one shared, copy-on-write storage object: a task's state
/// holds its definition as a single reference, so copying a state (which the projection,
/// the decider and every reader do) retains one object instead of twenty-odd fields, and a
/// state takes a fifth of the memory.
public struct TaskDefinition: Sendable, Hashable {
    private final class Storage: @unchecked Sendable {
        // Mutated only through `TaskDefinition`'s accessors, after making the storage unique.
        var name: String
        var description: String
        var labels: [String: String]
        var schedule: Schedule
        var action: WebhookAction
        var retry: RetryPolicy
        var overlap: OverlapPolicy
        var misfire: MisfirePolicy
        var namespace: String

        init(name: String, description: String, labels: [String: String], schedule: Schedule, action: WebhookAction, retry: RetryPolicy, overlap: OverlapPolicy, misfire: MisfirePolicy, namespace: String) {
            self.name = name
            self.description = description
            self.labels = labels
            self.schedule = schedule
            self.action = action
            self.retry = retry
            self.overlap = overlap
            self.misfire = misfire
            self.namespace = namespace
        }

        func copy() -> Storage {
            Storage(name: name, description: description, labels: labels, schedule: schedule, action: action, retry: retry, overlap: overlap, misfire: misfire, namespace: namespace)
        }
    }

    private var storage: Storage

    /// A short name, 1 to 200 characters.
    public var name: String {
        get { storage.name }
        _modify {
            makeUnique()
            yield &storage.name
        }
    }
    /// Free text.
    public var description: String {
        get { storage.description }
        _modify {
            makeUnique()
            yield &storage.description
        }
    }
    /// Labels for filtering, such as `team: billing`.
    public var labels: [String: String] {
        get { storage.labels }
        _modify {
            makeUnique()
            yield &storage.labels
        }
    }
    /// When occurrences fall.
    public var schedule: Schedule {
        get { storage.schedule }
        _modify {
            makeUnique()
            yield &storage.schedule
        }
    }
    /// What each occurrence does.
    public var action: WebhookAction {
        get { storage.action }
        _modify {
            makeUnique()
            yield &storage.action
        }
    }
    /// Whether the action holds a sealed value (a secret header or its own signing secret),
    /// read in place: a server at start-up asks this of every task.
    public var holdsSealedValues: Bool {
        storage.action.signingSecret != nil || storage.action.headers.contains(where: \.isSecret)
    }
    /// How failures are retried.
    public var retry: RetryPolicy {
        get { storage.retry }
        _modify {
            makeUnique()
            yield &storage.retry
        }
    }
    /// Whether runs may overlap.
    public var overlap: OverlapPolicy {
        get { storage.overlap }
        _modify {
            makeUnique()
            yield &storage.overlap
        }
    }
    /// What happens to occurrences found long overdue.
    public var misfire: MisfirePolicy {
        get { storage.misfire }
        _modify {
            makeUnique()
            yield &storage.misfire
        }
    }
    /// The tenant the task belongs to; fixed when the task is created.
    public var namespace: String {
        get { storage.namespace }
        _modify {
            makeUnique()
            yield &storage.namespace
        }
    }

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
        storage = Storage(name: name, description: description, labels: labels, schedule: schedule, action: action, retry: retry, overlap: overlap, misfire: misfire, namespace: namespace)
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    public static func == (lhs: TaskDefinition, rhs: TaskDefinition) -> Bool {
        if lhs.storage === rhs.storage { return true }
        let (a, b) = (lhs.storage, rhs.storage)
        return a.name == b.name
            && a.description == b.description
            && a.labels == b.labels
            && a.schedule == b.schedule
            && a.action == b.action
            && a.retry == b.retry
            && a.overlap == b.overlap
            && a.misfire == b.misfire
            && a.namespace == b.namespace
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.name)
        hasher.combine(storage.description)
        hasher.combine(storage.labels)
        hasher.combine(storage.schedule)
        hasher.combine(storage.action)
        hasher.combine(storage.retry)
        hasher.combine(storage.overlap)
        hasher.combine(storage.misfire)
        hasher.combine(storage.namespace)
    }
}
