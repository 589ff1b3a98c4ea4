/// The byte layout of one journal record (format 1); see docs/journal-format.md.
///
/// ```
/// u8  format (1) | u64 stream version | i64 recorded-at µs | u16 schema version
/// u8  stream id length | stream id | u8 type length | type | u32 payload length | payload
/// u32 checksum = CRC32C(previous checksum ‖ position ‖ every byte above)
/// ```
/// Integers are big-endian. Covering the previous record's checksum chains the records, so
/// an edited, removed or reordered record breaks every checksum after it.
public enum RecordCodec {
    /// The record format this code writes and reads.
    public static let format: UInt8 = 1
    /// The checksum the first record chains from.
    public static let genesisChecksum: UInt32 = 0

    /// Appends the encoded record to `buffer` and returns its checksum.
    public static func encode(
        position: UInt64,
        streamID: StreamID,
        streamVersion: UInt64,
        event: ProposedEvent,
        previousChecksum: UInt32,
        appendingTo buffer: inout [UInt8]
    ) -> UInt32 {
        let start = buffer.count
        buffer.append(format)
        buffer.appendBigEndian(streamVersion)
        buffer.appendBigEndian(UInt64(bitPattern: event.recordedAt))
        buffer.appendBigEndian(event.schemaVersion)
        buffer.append(UInt8(streamID.rawValue.utf8.count))
        buffer.append(contentsOf: streamID.rawValue.utf8)
        buffer.append(UInt8(event.type.utf8.count))
        buffer.append(contentsOf: event.type.utf8)
        buffer.appendBigEndian(UInt32(event.payload.count))
        buffer.append(contentsOf: event.payload)
        let checksum = buffer.withUnsafeBytes {
            chainedChecksum(
                body: UnsafeRawBufferPointer(rebasing: $0[start...]),
                position: position,
                previousChecksum: previousChecksum
            )
        }
        buffer.appendBigEndian(checksum)
        return checksum
    }

    /// The checksum of a record body at `position` chained from `previousChecksum`.
    public static func chainedChecksum(
        body: UnsafeRawBufferPointer,
        position: UInt64,
        previousChecksum: UInt32
    ) -> UInt32 {
        let seed = withUnsafeTemporaryAllocation(byteCount: 12, alignment: 8) { raw in
            raw.storeBytes(of: previousChecksum.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: position.bigEndian, toByteOffset: 4, as: UInt64.self)
            return CRC32C.update(0, UnsafeRawBufferPointer(raw))
        }
        return CRC32C.update(seed, body)
    }

    /// Decodes the record stored at `position`, checking its structure (not its checksum).
    public static func decode(position: UInt64, bytes: UnsafeRawBufferPointer) throws(JournalError) -> RecordedEvent {
        let record = try borrow(position: position, bytes: bytes)
        return RecordedEvent(
            position: position,
            streamID: StreamID(String(decoding: record.streamID, as: UTF8.self)),
            streamVersion: record.streamVersion,
            type: record.typeName,
            schemaVersion: record.schemaVersion,
            recordedAt: record.recordedAt,
            payload: Array(record.payload),
            checksum: record.checksum
        )
    }

    /// The stream version and stream id bytes of an encoded record, read without decoding
    /// the rest; nil if the record is too short to hold them.
    static func peekStream(_ bytes: UnsafeRawBufferPointer) -> (version: UInt64, streamID: UnsafeRawBufferPointer)? {
        guard bytes.count >= 20 else { return nil }
        let version = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        let length = Int(bytes[19])
        guard bytes.count >= 20 + length else { return nil }
        return (version, UnsafeRawBufferPointer(rebasing: bytes[20..<(20 + length)]))
    }

    /// Whether the record's stored checksum matches its bytes, position and predecessor.
    public static func verifyChecksum(
        position: UInt64,
        bytes: UnsafeRawBufferPointer,
        previousChecksum: UInt32
    ) -> (valid: Bool, stored: UInt32) {
        guard bytes.count >= 4 else { return (false, 0) }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        var stored: UInt32 = 0
        for byte in bytes[(bytes.count - 4)...] { stored = stored << 8 | UInt32(byte) }
        let computed = chainedChecksum(body: body, position: position, previousChecksum: previousChecksum)
        return (computed == stored, stored)
    }

    static func corrupted(_ position: UInt64, _ reason: String) -> JournalError {
        JournalError(code: .corrupted, message: "record at position \(position) is damaged: \(reason); restore from a snapshot")
    }
}

/// Reads big-endian fields from a byte buffer, returning nil past its end.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func readByte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() -> UInt16? { readInteger() }
    mutating func readUInt32() -> UInt32? { readInteger() }
    mutating func readUInt64() -> UInt64? { readInteger() }

    private mutating func readInteger<T: FixedWidthInteger>() -> T? {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { return nil }
        defer { offset += size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The next `count` bytes, in place.
    mutating func borrowBytes(count: Int) -> UnsafeRawBufferPointer? {
        guard bytes.count - offset >= count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}

extension Array where Element == UInt8 {
    /// Appends an integer's big-endian bytes.
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
