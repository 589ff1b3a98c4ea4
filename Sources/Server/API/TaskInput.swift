import Access
import Engine
import Scheduling

/// Reads a task definition from a request body (`POST /v1/tasks`, `PUT /v1/tasks/{id}`),
/// naming every invalid field. Nothing here touches the journal.
enum TaskInput {
    static let fields: Set<String> = [
        "name", "description", "labels", "schedule", "action", "retry", "overlap", "misfire", "misfireLimit", "namespace",
    ]
    static let scheduleFields: Set<String> = ["cron", "timeZone", "at", "every", "anchor", "startAt", "endAt"]
    static let actionFields: Set<String> = ["url", "method", "headers", "body", "timeout", "signingSecret"]
    static let secretFields: Set<String> = ["value", "secret"]
    static let retryFields: Set<String> = ["maxAttempts", "initialBackoff", "maxBackoff", "multiplier"]
    static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    /// The definition the body describes, or a 422 problem listing every invalid field.
    /// Secret values are sealed by `secrets` as they are read.
    static func definition(
        from body: JSONValue, now: Instant?, defaultNamespace: String = TaskDefinition.defaultNamespace,
        limits: TaskLimits = TaskLimits(), secrets: SecretSealer
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
        let action = reader.required(
            self.action(fields["action"], reader: reader, limits: limits, secrets: secrets), fields["action"], at: "action"
        )
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

    /// The namespace a creation request names (nil: it names none, or not a valid one); read
    /// before the rest, because the task's id depends on it.
    static func namespace(in body: JSONValue) -> String? {
        guard case .object(let fields) = body, case .string(let text)? = fields["namespace"], Namespace.isValid(text) else { return nil }
        return text
    }

    static func action(_ value: JSONValue?, reader: FieldReader, limits: TaskLimits = TaskLimits(), secrets: SecretSealer) -> WebhookAction? {
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
        let headers = self.headers(fields["headers"], reader: reader, limits: limits, secrets: secrets)
        let signingSecret = self.signingSecret(fields["signingSecret"], reader: reader, secrets: secrets)
        let body = reader.string(fields["body"], at: "action.body", maxLength: limits.maxActionBody)
        let timeout = reader.duration(fields["timeout"], at: "action.timeout", range: .milliseconds(1)...Duration.seconds(3600))
        guard let url else { return nil }
        return WebhookAction(
            url: url, method: method,
            headers: headers, body: body, timeout: timeout ?? .seconds(30), signingSecret: signingSecret
        )
    }

    /// `action.headers`: each value a string, or `{"value": …, "secret": true}` for a secret
    /// (sealed at once), or `{"secret": true}` to keep the secret the task already holds.
    static func headers(_ value: JSONValue?, reader: FieldReader, limits: TaskLimits, secrets: SecretSealer) -> [WebhookAction.Header] {
        guard let value, value != .null else { return [] }
        guard case .object(let fields) = value else {
            reader.fail("action.headers", "must be an object of header names to values, not \(value.typeName)")
            return []
        }
        if fields.count > limits.maxHeaders {
            reader.fail("action.headers", "has \(fields.count) entries; at most \(limits.maxHeaders) are allowed")
            return []
        }
        var headers: [WebhookAction.Header] = []
        var seen: [String: String] = [:]
        for (name, entry) in fields.sorted(by: { $0.key < $1.key }) {
            let path = "action.headers.\(name)"
            guard (1...128).contains(name.count) else {
                reader.fail(path, "names must be 1 to 128 characters")
                continue
            }
            guard name.utf8.allSatisfy({ isTokenByte($0) }) else {
                reader.fail(path, "is not a valid header name")
                continue
            }
            if let first = seen.updateValue(name, forKey: name.lowercased()) {
                reader.fail(path, "is the header \(first) again (header names ignore case)")
                continue
            }
            let field = WebhookAction.sealingField(header: name)
            switch secretValue(entry, at: path, reader: reader, maxLength: limits.maxHeaderValueLength) {
            case .plain(let text)?:
                guard isFieldValue(text) else {
                    reader.fail(path, "must not contain control characters (line breaks included) or begin or end with a space")
                    continue
                }
                headers.append(.init(name: name, value: text))
            case .secret(let text)?:
                guard isFieldValue(text) else {
                    // Never the value itself, nor which character is wrong.
                    reader.fail(path, "must not contain control characters (line breaks included) or begin or end with a space")
                    continue
                }
                headers.append(.init(name: name, sealed: secrets.seal(text, field: field)))
            case .keep?:
                switch secrets.kept(field: field) {
                case .stored(let kept): headers.append(.init(name: name, sealed: kept))
                case .none: reader.fail(path, "has no stored secret to keep; give it as {\"value\": \"…\", \"secret\": true}")
                case .unopenable(let reason): reader.fail(path, reason)
                }
            case nil:
                continue
            }
        }
        return headers
    }

    /// `action.signingSecret`: `whsec_…` (a string, or `{"value": …, "secret": true}`), or
    /// `{"secret": true}` to keep the task's current one; absent or null: the server's secret.
    static func signingSecret(_ value: JSONValue?, reader: FieldReader, secrets: SecretSealer) -> SealedSecret? {
        let path = "action.signingSecret"
        let field = WebhookAction.signingSecretField
        let text: String
        switch secretValue(value, at: path, reader: reader, maxLength: 256) {
        case .plain(let given)?, .secret(let given)?: text = given
        case .keep?:
            switch secrets.kept(field: field) {
            case .stored(let kept): return kept
            case .none: reader.fail(path, "the task has no signing secret of its own to keep; give one (whsec_…)")
            case .unopenable(let reason): reader.fail(path, reason)
            }
            return nil
        case nil: return nil
        }
        do {
            _ = try WebhookSigner(secret: text)
        } catch {
            // The message describes the form, never the value given.
            reader.fail(path, "is not a signing secret: \(error)")
            return nil
        }
        return secrets.seal(text, field: field)
    }

    /// A value that may be a secret: a string (plain), `{"value": …, "secret": true}`, or
    /// `{"secret": true}` (keep the stored one). Nil when absent, null or invalid.
    private static func secretValue(_ value: JSONValue?, at path: String, reader: FieldReader, maxLength: Int) -> SecretInput? {
        guard let value, value != .null else { return nil }
        if case .string = value {
            return reader.string(value, at: path, maxLength: maxLength).map { .plain($0) }
        }
        guard case .object = value, let fields = reader.object(value, at: path, allowed: secretFields) else {
            if case .object = value { return nil }
            reader.fail(path, "must be a string or {\"value\": \"…\", \"secret\": true}, not \(value.typeName)")
            return nil
        }
        var secret = false
        switch fields["secret"] {
        case nil, .null?: break
        case .bool(let flag)?: secret = flag
        case let other?: reader.fail(reader.join(path, "secret"), "must be true or false, not \(other.typeName)")
        }
        guard let given = fields["value"], given != .null else {
            if secret { return .keep }
            reader.fail(reader.join(path, "value"), "is required unless \"secret\" is true (which keeps the stored secret)")
            return nil
        }
        guard let text = reader.string(given, at: reader.join(path, "value"), maxLength: maxLength) else { return nil }
        return secret ? .secret(text) : .plain(text)
    }

    private enum SecretInput {
        case plain(String)
        case secret(String)
        case keep
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

    /// Whether `text` is a header value that is sent as given: no control character other
    /// than a tab (RFC 9110 field-value), and no space or tab at either end (HTTP drops them).
    static func isFieldValue(_ text: String) -> Bool {
        let bytes = text.utf8
        if let first = bytes.first, first == 0x20 || first == 0x09 { return false }
        if let last = bytes.last, last == 0x20 || last == 0x09 { return false }
        return !bytes.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
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
