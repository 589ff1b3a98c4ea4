/// Reads what ``BinaryWriter`` wrote, failing with ``EventDecodingError`` past the end or
/// on malformed values.
public struct BinaryReader {
    /// The bytes read.
    public let bytes: UnsafeRawBufferPointer
    /// Where the next read starts.
    public var offset = 0

    /// Reads from `bytes`, which must outlive the reader.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Whether every byte was read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Reads a LEB128 varint.
    public mutating func readUInt64() throws(EventDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw .malformed("a number runs past the payload") }
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// Reads a zigzag-encoded signed number.
    public mutating func readInt64() throws(EventDecodingError) -> Int64 {
        let raw = try readUInt64()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a signed number as an `Int`.
    public mutating func readInt() throws(EventDecodingError) -> Int {
        Int(truncatingIfNeeded: try readInt64())
    }

    /// Reads one byte.
    public mutating func readByte() throws(EventDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("the payload ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a boolean byte, refusing anything but 0 or 1.
    public mutating func readBool() throws(EventDecodingError) -> Bool {
        switch try readByte() {
        case 0: false
        case 1: true
        case let other: throw .malformed("\(other) is not a boolean")
        }
    }

    /// Reads a double from 8 little-endian bytes.
    public mutating func readDouble() throws(EventDecodingError) -> Double {
        guard bytes.count - offset >= 8 else { throw .malformed("the payload ends early") }
        defer { offset += 8 }
        return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }

    /// Reads a length-prefixed UTF-8 string.
    public mutating func readString() throws(EventDecodingError) -> String {
        String(decoding: try readStringBytes(), as: UTF8.self)
    }

    /// Reads a string's bytes in place, as stored (``readString()`` repairs them into a
    /// string): valid while the payload is.
    public mutating func readStringBytes() throws(EventDecodingError) -> UnsafeRawBufferPointer {
        // A length past `Int.max` (a damaged payload) is refused like any other too long.
        guard let count = Int(exactly: try readUInt64()), bytes.count - offset >= count else {
            throw .malformed("a string runs past the payload")
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// Reads an instant (signed microseconds since the epoch).
    public mutating func readInstant() throws(EventDecodingError) -> Instant {
        Instant(microsecondsSinceEpoch: try readInt64())
    }

    /// Reads a duration (signed microseconds).
    public mutating func readDuration() throws(EventDecodingError) -> Duration {
        .microseconds(try readInt64())
    }

    /// Reads a presence byte, then the value with `body` when it is 1.
    public mutating func readOptional<T>(_ body: (inout BinaryReader) throws(EventDecodingError) -> T) throws(EventDecodingError) -> T? {
        try readBool() ? try body(&self) : nil
    }
}

/// A stored event that cannot be turned back into a ``TaskEvent``.
public struct EventDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public let message: String

    /// Creates a decoding error.
    public init(message: String) { self.message = message }

    static func malformed(_ message: String) -> EventDecodingError { EventDecodingError(message: message) }

    public var description: String { message }
}
