import Access
import Scheduling

/// Reads a task definition from a request body (`POST /v1/tasks`, `PUT /v1/tasks/{id}`),
/// naming every invalid field. Nothing here touches the journal.
enum TaskInput {
    static let fields: Set<String> = [
        "name", "description", "labels", "schedule", "action", "retry", "overlap", "misfire", "misfireLimit", "namespace",
    ]
    static let scheduleFields: Set<String> = ["cron", "timeZone", "at", "every", "anchor", "startAt", "endAt"]
    static let actionFields: Set<String> = ["url", "method", "headers", "body", "timeout"]
    static let retryFields: Set<String> = ["maxAttempts", "initialBackoff", "maxBackoff", "multiplier"]
    static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    /// The definition the body describes, or a 422 problem listing every invalid field.
    static func definition(
        from body: JSONValue, now: Instant?, defaultNamespace: String = TaskDefinition.defaultNamespace,
        limits: TaskLimits = TaskLimits()
    ) throws(Problem) -> TaskDefinition {
        let reader = FieldReader()
        guard let fields = reader.object(body, at: "", allowed: fields) else { throw Problem.invalid(reader.problems) }
        var namespace = defaultNamespace
        if let text = reader.string(fields["namespace"], at: "namespace", maxLength: 63, allowEmpty: false) {
            if Namespace.isValid(text) { namespace = text } else {
                reader.fail("namespace", "must be 1 to 63 lowercase letters, digits or '-', not starting with '-'")
            }
        }
        let name = reader.required(reader.string(fields["name"], at: "name", maxLength: 200, allowEmpty: false), fields["name"], at: "name")
        let description = reader.string(fields["description"], at: "description", maxLength: 4096) ?? ""
        let labels = reader.stringMap(fields["labels"], at: "labels", maxEntries: 64, maxKeyLength: 63, maxValueLength: 256) ?? [:]
        let schedule = reader.required(self.schedule(fields["schedule"], reader: reader, now: now, path: "schedule"),
                                       fields["schedule"], at: "schedule")
        let action = reader.required(self.action(fields["action"], reader: reader, limits: limits), fields["action"], at: "action")
        let retry = self.retry(fields["retry"], reader: reader)
        var overlap = OverlapPolicy.allow
        if let text = reader.string(fields["overlap"], at: "overlap", maxLength: 16) {
            if let value = OverlapPolicy(rawValue: text) { overlap = value } else {
                reader.fail("overlap", "must be \"allow\" or \"forbid\"")
            }
        }
        let limit = reader.integer(fields["misfireLimit"], at: "misfireLimit", range: 1...10_000)
        var misfire = MisfirePolicy.runOnce
        if let text = reader.string(fields["misfire"], at: "misfire", maxLength: 16) {
            switch text {
            case "runOnce": misfire = .runOnce
            case "runAll": misfire = .runAll(limit: limit ?? 100)
            case "skip": misfire = .skip
            default: reader.fail("misfire", "must be \"runOnce\", \"runAll\" or \"skip\"")
            }
        }
        if limit != nil, !(fields["misfire"].flatMap { $0 == .string("runAll") } ?? false) {
            reader.fail("misfireLimit", "applies only with \"misfire\": \"runAll\"")
        }
        guard reader.problems.isEmpty, let name, let schedule, let action else { throw Problem.invalid(reader.problems) }
        return TaskDefinition(
            name: name, description: description, labels: labels, schedule: schedule, action: action,
            retry: retry ?? RetryPolicy(), overlap: overlap, misfire: misfire, namespace: namespace
        )
    }

    /// A schedule object; `now` rejects a one-time instant in the past.
    static func schedule(_ value: JSONValue?, reader: FieldReader, now: Instant?, path: String) -> Schedule? {
        guard let fields = reader.object(value, at: path, allowed: scheduleFields) else { return nil }
        let kinds = ["cron", "at", "every"].filter { fields[$0] != nil && fields[$0] != .null }
        guard kinds.count == 1, let kindName = kinds.first else {
            reader.fail(path, kinds.isEmpty
                ? "needs one of \"cron\", \"at\" or \"every\""
                : "has \(kinds.joined(separator: " and ")); give exactly one of \"cron\", \"at\" or \"every\"")
            return nil
        }
        for field in ["timeZone"] where fields[field] != nil && kindName != "cron" {
            reader.fail(reader.join(path, field), "applies only to a \"cron\" schedule")
        }
        if fields["anchor"] != nil && kindName != "every" {
            reader.fail(reader.join(path, "anchor"), "applies only to an \"every\" schedule")
        }
        let startAt = reader.instant(fields["startAt"], at: reader.join(path, "startAt"))
        let endAt = reader.instant(fields["endAt"], at: reader.join(path, "endAt"))
        if let startAt, let endAt, endAt < startAt {
            reader.fail(reader.join(path, "endAt"), "is before startAt")
        }
        var kind: Schedule.Kind?
        switch kindName {
        case "cron":
            let zoneName = reader.string(fields["timeZone"], at: reader.join(path, "timeZone"), maxLength: 64) ?? "UTC"
            guard let text = reader.string(fields["cron"], at: reader.join(path, "cron"), maxLength: 256) else { break }
            do {
                let expression = try CronExpression(text)
                do {
                    kind = .cron(try CronSchedule(expression: expression, timeZoneIdentifier: zoneName))
                } catch {
                    reader.fail(reader.join(path, "timeZone"), error.message)
                }
            } catch {
                reader.fail(reader.join(path, "cron"), error.description)
            }
        case "at":
            if let at = reader.instant(fields["at"], at: reader.join(path, "at")) {
                if let now, at <= now {
                    reader.fail(reader.join(path, "at"), "\(at.rfc3339) is not in the future (now is \(now.rfc3339))")
                } else {
                    kind = .once(at)
                }
            }
        default:
            let every = reader.duration(fields["every"], at: reader.join(path, "every"), range: .milliseconds(1)...Duration.seconds(366 * 86_400))
            let anchor = reader.instant(fields["anchor"], at: reader.join(path, "anchor"))
            if let every {
                // Occurrences fall at anchor + k × every; by default the anchor is startAt, or
                // the Unix epoch, so the same request always describes the same schedule.
                kind = .interval(every: every, anchor: anchor ?? startAt ?? Instant(microsecondsSinceEpoch: 0))
            }
        }
        guard let kind else { return nil }
        let schedule = Schedule(kind, startAt: startAt, endAt: endAt)
        if let now, schedule.next(after: now) == nil {
            reader.fail(path, "has no occurrence after now (\(now.rfc3339)); check endAt")
            return nil
        }
        return schedule
    }

    static func action(_ value: JSONValue?, reader: FieldReader, limits: TaskLimits = TaskLimits()) -> WebhookAction? {
        guard let fields = reader.object(value, at: "action", allowed: actionFields) else { return nil }
        let url = reader.required(reader.string(fields["url"], at: "action.url", maxLength: limits.maxURLLength), fields["url"], at: "action.url")
        if let url {
            if let problem = WebhookURL.problem(url) {
                reader.fail("action.url", "\"\(url)\" is not a usable webhook URL: it \(problem)")
            }
        }
        var method = "POST"
        if let text = reader.string(fields["method"], at: "action.method", maxLength: 16) {
            if methods.contains(text.uppercased()) { method = text.uppercased() } else {
                reader.fail("action.method", "must be one of \(methods.sorted().joined(separator: ", "))")
            }
        }
        let headerMap = reader.stringMap(
            fields["headers"], at: "action.headers", maxEntries: limits.maxHeaders, maxKeyLength: 128, maxValueLength: limits.maxHeaderValueLength
        ) ?? [:]
        for name in headerMap.keys where !name.utf8.allSatisfy({ isTokenByte($0) }) {
            reader.fail("action.headers.\(name)", "is not a valid header name")
        }
        for (name, value) in headerMap where value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
            reader.fail("action.headers.\(name)", "must not contain line breaks")
        }
        let body = reader.string(fields["body"], at: "action.body", maxLength: limits.maxActionBody)
        let timeout = reader.duration(fields["timeout"], at: "action.timeout", range: .milliseconds(1)...Duration.seconds(3600))
        guard let url else { return nil }
        return WebhookAction(
            url: url, method: method,
            headers: headerMap.sorted { $0.key < $1.key }.map { WebhookAction.Header(name: $0.key, value: $0.value) },
            body: body, timeout: timeout ?? .seconds(30)
        )
    }

    static func retry(_ value: JSONValue?, reader: FieldReader) -> RetryPolicy? {
        guard let fields = reader.object(value, at: "retry", allowed: retryFields) else { return nil }
        let defaults = RetryPolicy()
        let maxAttempts = reader.integer(fields["maxAttempts"], at: "retry.maxAttempts", range: 1...100)
        let initial = reader.duration(fields["initialBackoff"], at: "retry.initialBackoff", range: .zero...Duration.seconds(86_400))
        let maximum = reader.duration(fields["maxBackoff"], at: "retry.maxBackoff", range: .zero...Duration.seconds(7 * 86_400))
        let multiplier = reader.number(fields["multiplier"], at: "retry.multiplier", range: 1...10)
        let policy = RetryPolicy(
            maxAttempts: maxAttempts ?? defaults.maxAttempts,
            initialBackoff: initial ?? defaults.initialBackoff,
            multiplier: multiplier ?? defaults.multiplier,
            maxBackoff: maximum ?? defaults.maxBackoff
        )
        if policy.maxBackoff < policy.initialBackoff {
            reader.fail("retry.maxBackoff", "is less than initialBackoff")
        }
        return policy
    }

    /// RFC 9110 token characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
