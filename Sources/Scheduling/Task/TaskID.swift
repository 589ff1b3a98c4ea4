/// The identity of a task; also the id of its stream in the journal.
public struct TaskID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The id's text: 1 to 64 characters from `A-Z a-z 0-9 - _ .`.
    public let rawValue: String

    /// Wraps an id without checking it; ``isValid`` says whether it may name a new task.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Whether the id is 1–64 characters of letters, digits, `-`, `_` or `.`.
    public var isValid: Bool {
        let utf8 = rawValue.utf8
        return (1...64).contains(utf8.count) && utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
    }
}
