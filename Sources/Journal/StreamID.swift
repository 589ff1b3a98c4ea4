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

    /// Ids compare by their UTF-8 bytes, as the journal stores them: two canonically
    /// equivalent spellings (a precomposed "é" and "e" + combining accent) are two streams
    /// here as on disk, never one stream in memory and two in the index.
    public static func == (lhs: StreamID, rhs: StreamID) -> Bool {
        // Both are nearly always contiguous UTF-8: compared in place, at once.
        let same = lhs.rawValue.utf8.withContiguousStorageIfAvailable { left in
            rhs.rawValue.utf8.withContiguousStorageIfAvailable { right in
                left.count == right.count && UnsafeRawBufferPointer(left).elementsEqual(UnsafeRawBufferPointer(right))
            }
        }
        if let same, let same { return same }
        return lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue.utf8.count)
        // The bytes in one call where they lie contiguous (nearly always), else one by one:
        // the same bytes either way, so equal ids hash alike.
        let hashed: Void? = rawValue.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { Array(rawValue.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
    }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    /// Whether the stream is reserved for the application's own records (a name starting with
    /// `$`, such as Almanac's `$access`) rather than one of its entities.
    public var isReserved: Bool { rawValue.utf8.first == UInt8(ascii: "$") }

    /// The longest stream id, in UTF-8 bytes.
    public static let maximumLength = 255
}
