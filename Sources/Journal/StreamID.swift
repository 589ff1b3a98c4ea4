/// The identity of one stream (for Almanac, one task) in the journal.
///
/// Stored as UTF-8, 1 to 255 bytes; the journal rejects other lengths at append time.
public struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The stream's name.
    public let rawValue: String

    /// Wraps a stream name; validity is checked when events are appended.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The longest stream id, in UTF-8 bytes.
    public static let maximumLength = 255
}
