/// The identity of one occurrence of a task: stable across attempts, restarts and replays,
/// and sent to receivers as the idempotency key.
///
/// A scheduled occurrence is `<task>@<scheduled instant in µs>`; a manual trigger is
/// `<task>!<trigger id>`.
public struct OccurrenceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// Wraps stored text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The occurrence of `task` scheduled at `instant`.
    public static func scheduled(_ task: TaskID, at instant: Instant) -> OccurrenceID {
        OccurrenceID(rawValue: "\(task.rawValue)@\(instant.microsecondsSinceEpoch)")
    }

    /// The occurrence a manual trigger of `task` creates.
    public static func manual(_ task: TaskID, trigger: String) -> OccurrenceID {
        OccurrenceID(rawValue: "\(task.rawValue)!\(trigger)")
    }

    public var description: String { rawValue }

    public static func < (lhs: OccurrenceID, rhs: OccurrenceID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The identity of one attempt of an occurrence: `<occurrence>#<attempt>`.
public struct RunID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The id's text.
    public let rawValue: String

    /// Wraps stored text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The run of `occurrence`'s attempt `attempt` (1 for the first).
    public init(_ occurrence: OccurrenceID, attempt: Int) {
        rawValue = "\(occurrence.rawValue)#\(attempt)"
    }

    public var description: String { rawValue }

    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Reading run and occurrence ids as text, without building new strings.
package enum RunIDText {
    /// Whether `run`'s text is exactly the UTF-8 `bytes`.
    package static func run(_ run: RunID, is bytes: UnsafeRawBufferPointer) -> Bool {
        let same = run.rawValue.utf8.withContiguousStorageIfAvailable { text in
            OccurrenceText.same(UnsafeRawBufferPointer(text), bytes)
        }
        return same ?? run.rawValue.utf8.elementsEqual(bytes)
    }

    /// A run id's occurrence text and attempt (`<occurrence>#<attempt>`), or nil when it has
    /// no such form.
    package static func split(_ run: RunID) -> (Substring.UTF8View, Int)? {
        // Nearly always contiguous UTF-8: the `#` and the digits found in the bytes in place.
        let found = run.rawValue.utf8.withContiguousStorageIfAvailable { bytes -> (hash: Int, attempt: Int)? in
            guard let hash = bytes.lastIndex(of: UInt8(ascii: "#")),
                let attempt = OccurrenceText.canonicalInteger(bytes: bytes[(hash + 1)...])
            else { return nil }
            return (hash, Int(attempt))
        }
        if let found {
            guard let (hash, attempt) = found else { return nil }
            let text = run.rawValue[...].utf8
            return (text[..<text.index(text.startIndex, offsetBy: hash)], attempt)
        }
        let text = run.rawValue[...]
        guard let hash = text.utf8.lastIndex(of: UInt8(ascii: "#")) else { return nil }
        let digits = text.utf8[text.utf8.index(after: hash)...]
        guard let attempt = OccurrenceText.canonicalInteger(digits) else { return nil }
        return (text[..<hash].utf8, Int(attempt))
    }
}

/// The text of occurrence ids.
package enum OccurrenceText {
    /// Whether two runs of bytes are the same, compared eight bytes at a time.
    package static func same(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Bool {
        guard left.count == right.count else { return false }
        var offset = 0
        while offset + 8 <= left.count {
            guard left.loadUnaligned(fromByteOffset: offset, as: UInt64.self) == right.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            else { return false }
            offset += 8
        }
        while offset < left.count {
            guard left[offset] == right[offset] else { return false }
            offset += 1
        }
        return true
    }

    /// Whether `text` is exactly `task`'s scheduled occurrence at `micros`: the task id, `@`,
    /// and the instant in microseconds as ``OccurrenceID/scheduled(_:at:)`` writes it.
    package static func isScheduled(_ text: Substring.UTF8View, of task: TaskID, at micros: Int64) -> Bool {
        scheduledInstant(text, of: task) == micros
    }

    /// The instant, in microseconds, of `task`'s scheduled occurrence whose text is `text`;
    /// nil when `text` is not exactly such an occurrence (a manual trigger's, another task's).
    package static func scheduledInstant(_ text: Substring.UTF8View, of task: TaskID) -> Int64? {
        // Both texts are nearly always contiguous UTF-8: compared as bytes in place.
        let fast = text.withContiguousStorageIfAvailable { text in
            task.rawValue.utf8.withContiguousStorageIfAvailable { id in scheduledInstant(text[...], id: id[...]) }
        }
        if let fast, let result = fast { return result }
        return scheduledInstant(Array(text)[...], id: Array(task.rawValue.utf8)[...])
    }

    private static func scheduledInstant<Bytes: Collection<UInt8>>(_ text: Bytes, id: Bytes) -> Int64?
    where Bytes.SubSequence == Bytes, Bytes.Index == Int {
        guard text.count > id.count, text.starts(with: id) else { return nil }
        let at = text.startIndex + id.count
        guard text[at] == UInt8(ascii: "@") else { return nil }
        return canonicalInteger(bytes: text[(at + 1)...])
    }

    /// The integer `digits` writes in the form `String(_:)` gives it (an optional `-`, no
    /// leading zeros), or nil for any other text.
    package static func canonicalInteger(_ digits: Substring.UTF8View) -> Int64? {
        if let fast = digits.withContiguousStorageIfAvailable({ canonicalInteger(bytes: $0[...]) }) { return fast }
        return canonicalInteger(bytes: Array(digits)[...])
    }

    fileprivate static func canonicalInteger<Bytes: Collection<UInt8>>(bytes digits: Bytes) -> Int64?
    where Bytes.Index == Int {
        var index = digits.startIndex
        guard index < digits.endIndex else { return nil }
        let negative = digits[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < digits.endIndex else { return nil }
        if digits[index] == UInt8(ascii: "0") {
            // Only "0" itself may start with a zero ("-0" is not how 0 is written).
            return !negative && index + 1 == digits.endIndex ? 0 : nil
        }
        var value: Int64 = 0
        while index < digits.endIndex {
            let digit = digits[index]
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = negative
                ? times.subtractingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
                : times.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
            guard !overflow, !overflowSum else { return nil }
            value = sum
            index += 1
        }
        return value
    }
}
