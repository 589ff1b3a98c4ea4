import Synchronization

/// Parts of task definitions already in use, by value: identical label sets, header lists,
/// URLs and bodies share one copy, and so do the fields a definition keeps in common with
/// others (``TaskDefinition/Common``).
///
/// A memo, not state (like ``CronScheduleMemo``): sharing equal values cannot change any
/// result. A million tasks created from a few templates then hold a few copies of their
/// headers and bodies rather than a million (about 190 bytes per task in the replay
/// benchmark). Empty collections and strings of up to 15 bytes (kept inline) are left alone.
enum SharedParts {
    private struct Tables {
        var labels: [[String: String]: [String: String]] = [:]
        var headers: [[WebhookAction.Header]: [WebhookAction.Header]] = [:]
        var texts: [String: String] = [:]
        /// Keyed by value (`TaskDefinition.Common` hashes and compares its fields).
        var commons: [TaskDefinition.Common: TaskDefinition.Common] = [:]
    }

    private static let tables = Mutex(Tables())

    /// The most values of each kind kept; past it that table starts again (unique values
    /// only churn it; shared ones come straight back). At most a few megabytes.
    static let capacity = 65_536

    static func labels(_ labels: [String: String]) -> [String: String] {
        guard !labels.isEmpty else { return labels }
        return tables.withLock { share(labels, in: &$0.labels) }
    }

    static func headers(_ headers: [WebhookAction.Header]) -> [WebhookAction.Header] {
        guard !headers.isEmpty else { return headers }
        return tables.withLock { share(headers, in: &$0.headers) }
    }

    static func text(_ text: String) -> String {
        guard text.utf8.count > 15 else { return text }
        return tables.withLock { share(text, in: &$0.texts) }
    }

    /// An object equal to `common` already in use, or `common`.
    static func common(_ common: TaskDefinition.Common) -> TaskDefinition.Common {
        tables.withLock { share(common, in: &$0.commons) }
    }

    private static func share<Value: Hashable>(_ value: Value, in table: inout [Value: Value]) -> Value {
        if let kept = table[value] { return kept }
        if table.count >= capacity { table.removeAll(keepingCapacity: true) }
        table[value] = value
        return value
    }
}

extension TaskDefinition {
    /// This definition with its label set, header list, URL and body replaced by equal copies
    /// already in use, where there are any (``SharedParts``).
    package func sharingParts() -> TaskDefinition {
        var action = self.action
        action.url = SharedParts.text(action.url)
        action.headers = SharedParts.headers(action.headers)
        action.body = action.body.map(SharedParts.text)
        return TaskDefinition(
            name: name, description: description, labels: SharedParts.labels(labels), schedule: schedule,
            action: action, retry: retry, overlap: overlap, misfire: misfire, namespace: namespace
        )
    }
}
