/// Everything a person states about a task: replaced whole by an update.
///
/// A value type whose fields live in one shared, copy-on-write storage object: a task's state
/// holds its definition as a single reference, so copying a state (which the projection,
/// the decider and every reader do) retains one object instead of twenty-odd fields, and a
/// state takes a fifth of the memory.
///
/// The fields that tasks made from one template have in common — labels, method, headers,
/// body, timeout, retry, overlap, misfire, namespace — are kept in a second object, immutable
/// and shared by every definition with equal values (``SharedParts``, whatever made the
/// definition: the API, a replay, a snapshot): a task's own storage holds its name,
/// description, schedule, URL and signing secret, 160 bytes instead of 304.
public struct TaskDefinition: Sendable, Hashable {
    /// The fields tasks of one template share; never changed once made.
    final class Common: Sendable, Hashable {
        let labels: [String: String]
        let method: String
        let headers: [WebhookAction.Header]
        let body: String?
        let timeout: Duration
        let retry: RetryPolicy
        let overlap: OverlapPolicy
        let misfire: MisfirePolicy
        let namespace: String

        init(
            labels: [String: String], method: String, headers: [WebhookAction.Header], body: String?, timeout: Duration,
            retry: RetryPolicy, overlap: OverlapPolicy, misfire: MisfirePolicy, namespace: String
        ) {
            self.labels = labels
            self.method = method
            self.headers = headers
            self.body = body
            self.timeout = timeout
            self.retry = retry
            self.overlap = overlap
            self.misfire = misfire
            self.namespace = namespace
        }

        /// An equal object already in use, or this one (``SharedParts``).
        static func shared(
            labels: [String: String], action: WebhookAction, retry: RetryPolicy, overlap: OverlapPolicy,
            misfire: MisfirePolicy, namespace: String
        ) -> Common {
            SharedParts.common(Common(
                labels: labels, method: action.method, headers: action.headers, body: action.body, timeout: action.timeout,
                retry: retry, overlap: overlap, misfire: misfire, namespace: namespace
            ))
        }

        /// The bytes of text the fields hold (labels, method, headers, body, namespace).
        var textBytes: Int {
            labels.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } + method.utf8.count
                + headers.reduce(0) { total, header in
                    switch header.value {
                    case .plain(let text): total + header.name.utf8.count + text.utf8.count
                    case .sealed(let sealed): total + header.name.utf8.count + sealed.text.utf8.count
                    }
                }
                + (body?.utf8.count ?? 0) + namespace.utf8.count
        }

        static func == (lhs: Common, rhs: Common) -> Bool {
            lhs === rhs
                || (lhs.labels == rhs.labels && lhs.method == rhs.method && lhs.headers == rhs.headers && lhs.body == rhs.body
                    && lhs.timeout == rhs.timeout && lhs.retry == rhs.retry && lhs.overlap == rhs.overlap
                    && lhs.misfire == rhs.misfire && lhs.namespace == rhs.namespace)
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(labels)
            hasher.combine(method)
            hasher.combine(headers)
            hasher.combine(body)
            hasher.combine(timeout)
            hasher.combine(retry)
            hasher.combine(overlap)
            hasher.combine(misfire)
            hasher.combine(namespace)
        }
    }

    private final class Storage: @unchecked Sendable {
        // Mutated only through `TaskDefinition`'s accessors, after making the storage unique.
        var name: String
        var description: String
        var schedule: Schedule
        var url: String
        var signingSecret: SealedSecret?
        var common: Common

        init(name: String, description: String, schedule: Schedule, url: String, signingSecret: SealedSecret?, common: Common) {
            self.name = name
            self.description = description
            self.schedule = schedule
            self.url = url
            self.signingSecret = signingSecret
            self.common = common
        }

        func copy() -> Storage {
            Storage(name: name, description: description, schedule: schedule, url: url, signingSecret: signingSecret, common: common)
        }

        /// Replaces the shared fields: an equal object already in use, or a new one.
        func setCommon(
            labels: [String: String]? = nil, action: WebhookAction? = nil, retry: RetryPolicy? = nil,
            overlap: OverlapPolicy? = nil, misfire: MisfirePolicy? = nil, namespace: String? = nil
        ) {
            let old = common
            common = Common(
                labels: labels ?? old.labels, method: action?.method ?? old.method, headers: action?.headers ?? old.headers,
                body: action.map(\.body) ?? old.body, timeout: action?.timeout ?? old.timeout, retry: retry ?? old.retry,
                overlap: overlap ?? old.overlap, misfire: misfire ?? old.misfire, namespace: namespace ?? old.namespace
            )
            common = SharedParts.common(common)
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
        get { storage.common.labels }
        set {
            makeUnique()
            storage.setCommon(labels: newValue)
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
        get {
            let common = storage.common
            return WebhookAction(
                url: storage.url, method: common.method, headers: common.headers, body: common.body,
                timeout: common.timeout, signingSecret: storage.signingSecret
            )
        }
        set {
            makeUnique()
            storage.url = newValue.url
            storage.signingSecret = newValue.signingSecret
            storage.setCommon(action: newValue)
        }
    }
    /// Whether the action holds a sealed value (a secret header or its own signing secret),
    /// read in place: a server at start-up asks this of every task.
    public var holdsSealedValues: Bool {
        storage.signingSecret != nil || storage.common.headers.contains(where: \.isSecret)
    }
    /// How failures are retried.
    public var retry: RetryPolicy {
        get { storage.common.retry }
        set {
            makeUnique()
            storage.setCommon(retry: newValue)
        }
    }
    /// Whether runs may overlap.
    public var overlap: OverlapPolicy {
        get { storage.common.overlap }
        set {
            makeUnique()
            storage.setCommon(overlap: newValue)
        }
    }
    /// What happens to occurrences found long overdue.
    public var misfire: MisfirePolicy {
        get { storage.common.misfire }
        set {
            makeUnique()
            storage.setCommon(misfire: newValue)
        }
    }
    /// The tenant the task belongs to; fixed when the task is created.
    public var namespace: String {
        get { storage.common.namespace }
        set {
            makeUnique()
            storage.setCommon(namespace: newValue)
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
        storage = Storage(
            name: name, description: description, schedule: schedule, url: action.url, signingSecret: action.signingSecret,
            common: Common.shared(labels: labels, action: action, retry: retry, overlap: overlap, misfire: misfire, namespace: namespace)
        )
    }

    /// A definition from its own fields and an object of shared fields (a stored one, read).
    init(name: String, description: String, schedule: Schedule, url: String, signingSecret: SealedSecret?, common: Common) {
        storage = Storage(name: name, description: description, schedule: schedule, url: url, signingSecret: signingSecret, common: common)
    }

    /// Whether this definition and `other` hold one object of shared fields (tests).
    func sharesCommonFields(with other: TaskDefinition) -> Bool { storage.common === other.storage.common }

    /// The identity of the object holding the fields definitions share (labels, method,
    /// headers, body, timeout, retry, overlap, misfire, namespace): definitions with the same
    /// identity have equal values of all of them, so a reader judging many tasks by those
    /// fields alone can judge each object once. (Equal values may still sit in two objects.)
    /// Stable while any definition holds the object.
    public var commonFieldsIdentity: ObjectIdentifier { ObjectIdentifier(storage.common) }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    public static func == (lhs: TaskDefinition, rhs: TaskDefinition) -> Bool {
        if lhs.storage === rhs.storage { return true }
        let (a, b) = (lhs.storage, rhs.storage)
        return a.name == b.name
            && a.description == b.description
            && a.schedule == b.schedule
            && a.url == b.url
            && a.signingSecret == b.signingSecret
            && a.common == b.common
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.name)
        hasher.combine(storage.description)
        hasher.combine(storage.schedule)
        hasher.combine(storage.url)
        hasher.combine(storage.signingSecret)
        hasher.combine(storage.common)
    }
}
