import Scheduling

/// One invalid field of a request, as problem+json lists it.
public struct InvalidField: Sendable, Hashable, Codable {
    /// The field's path, e.g. `schedule.cron` or `action.headers.X-Token`.
    public let name: String
    /// What is wrong, and what is allowed.
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }
}

/// Reads the fields of a JSON object strictly: each read names its path, wrong types and
/// unknown fields are collected as ``InvalidField``s rather than thrown one at a time, so one
/// response can list every problem of a request.
final class FieldReader {
    private(set) var problems: [InvalidField] = []

    func fail(_ path: String, _ reason: String) {
        problems.append(InvalidField(name: path, reason: reason))
    }

    /// The object's fields, reporting any not in `allowed`; nil (with a problem) if not an object.
    func object(_ value: JSONValue?, at path: String, allowed: Set<String>) -> [String: JSONValue]? {
        guard let value else { return nil }
        guard case .object(let fields) = value else {
            fail(path.isEmpty ? "body" : path, "must be an object, not \(value.typeName)")
            return nil
        }
        // Sorted (for a stable report) only when some field is unknown.
        guard !fields.keys.allSatisfy(allowed.contains) else { return fields }
        for key in fields.keys.sorted() where !allowed.contains(key) {
            fail(join(path, key), "unknown field; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
        return fields
    }

    func string(_ value: JSONValue?, at path: String, maxLength: Int, allowEmpty: Bool = true) -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let text) = value else {
            fail(path, "must be a string, not \(value.typeName)")
            return nil
        }
        if text.count > maxLength {
            fail(path, "is \(text.count) characters long; at most \(maxLength) are allowed")
            return nil
        }
        if !allowEmpty && text.isEmpty {
            fail(path, "must not be empty")
            return nil
        }
        return text
    }

    func integer(_ value: JSONValue?, at path: String, range: ClosedRange<Int>) -> Int? {
        guard let value, value != .null else { return nil }
        guard case .number(let number) = value, number.rounded() == number, number.magnitude < 1e15 else {
            fail(path, "must be a whole number, not \(value.typeName == "number" ? "a fraction" : value.typeName)")
            return nil
        }
        let integer = Int(number)
        guard range.contains(integer) else {
            fail(path, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return integer
    }

    func number(_ value: JSONValue?, at path: String, range: ClosedRange<Double>) -> Double? {
        guard let value, value != .null else { return nil }
        guard case .number(let number) = value else {
            fail(path, "must be a number, not \(value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            fail(path, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return number
    }

    func duration(_ value: JSONValue?, at path: String, range: ClosedRange<Duration>) -> Duration? {
        guard let text = string(value, at: path, maxLength: 64) else { return nil }
        guard let duration = DurationText.parse(text) else {
            fail(path, "\"\(text)\" is not a duration; write e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\"")
            return nil
        }
        guard range.contains(duration) else {
            fail(path, "must be between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))")
            return nil
        }
        return duration
    }

    func instant(_ value: JSONValue?, at path: String) -> Instant? {
        guard let text = string(value, at: path, maxLength: 64) else { return nil }
        guard let instant = Instant(rfc3339: text) else {
            fail(path, "\"\(text)\" is not an RFC 3339 instant; write e.g. \"2026-12-01T09:00:00Z\"")
            return nil
        }
        return instant
    }

    func stringMap(
        _ value: JSONValue?, at path: String, maxEntries: Int, maxKeyLength: Int, maxValueLength: Int
    ) -> [String: String]? {
        guard let value, value != .null else { return nil }
        guard case .object(let fields) = value else {
            fail(path, "must be an object of strings, not \(value.typeName)")
            return nil
        }
        if fields.count > maxEntries {
            fail(path, "has \(fields.count) entries; at most \(maxEntries) are allowed")
            return nil
        }
        var result: [String: String] = [:]
        for (key, entry) in fields.sorted(by: { $0.key < $1.key }) {
            if key.isEmpty || key.count > maxKeyLength {
                fail(join(path, key), "names must be 1 to \(maxKeyLength) characters")
                continue
            }
            if let text = string(entry, at: join(path, key), maxLength: maxValueLength) {
                result[key] = text
            } else if entry == .null {
                fail(join(path, key), "must be a string, not null")
            }
        }
        return result
    }

    func required<T>(_ value: T?, _ present: JSONValue?, at path: String) -> T? {
        if present == nil || present == .null { fail(path, "is required") }
        return value
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
}
