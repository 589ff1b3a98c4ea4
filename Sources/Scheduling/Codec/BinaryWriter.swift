/// Writes the compact binary form of event payloads: LEB128 varints, zigzag for signed
/// numbers, length-prefixed UTF-8 strings, a presence byte before optionals.
public struct BinaryWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty writer.
    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    /// Writes an unsigned number as a LEB128 varint.
    public mutating func write(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Writes a signed number, zigzag-encoded.
    public mutating func write(_ value: Int64) {
        write(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Writes an `Int` as a signed number.
    public mutating func write(_ value: Int) { write(Int64(value)) }

    /// Writes a boolean as one byte, 0 or 1.
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Writes one byte.
    public mutating func write(_ value: UInt8) { bytes.append(value) }

    /// Writes a double as its 8 little-endian bytes.
    public mutating func write(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Writes a string: its UTF-8 byte count, then the bytes.
    public mutating func write(_ value: String) {
        write(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Writes an instant as signed microseconds since the epoch.
    public mutating func write(_ value: Instant) { write(value.microsecondsSinceEpoch) }

    /// Writes a duration as signed microseconds.
    public mutating func write(_ value: Duration) { write(value.wholeMicroseconds) }

    /// Appends bytes written elsewhere, as they are.
    public mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Writes a presence byte, then the value with `body` when there is one.
    public mutating func write<T>(_ value: T?, _ body: (inout BinaryWriter, T) -> Void) {
        if let value {
            bytes.append(1)
            body(&self, value)
        } else {
            bytes.append(0)
        }
    }
}
