/// A journal record read in place: its fields, with the stream id, type and payload as bytes
/// borrowed from the journal's storage. Valid only inside the call that hands it out
/// (``BorrowingJournal/withRecords(after:limit:reusing:_:)``); a replay reads millions of records,
/// and a ``RecordedEvent`` allocates its stream id and payload for each.
///
/// `@unchecked Sendable`: workers may read the bytes concurrently while the call that
/// handed them out is still running; nothing writes them.
public struct BorrowedRecord: @unchecked Sendable {
    /// The global position.
    public let position: UInt64
    /// The event's version within its stream.
    public let streamVersion: UInt64
    /// When the event was decided, in microseconds since the Unix epoch.
    public let recordedAt: Int64
    /// The version of the payload's schema.
    public let schemaVersion: UInt16
    /// The stream id's UTF-8 bytes.
    public let streamID: UnsafeRawBufferPointer
    /// The type name's UTF-8 bytes.
    public let type: UnsafeRawBufferPointer
    /// The payload.
    public let payload: UnsafeRawBufferPointer
    /// The record's stored checksum (not verified on reading).
    public let checksum: UInt32

    /// Whether the stream is reserved (its id starts with `$`, as ``StreamID/isReserved``).
    public var isReserved: Bool { streamID.first == UInt8(ascii: "$") }

    /// The record's type name as text.
    public var typeName: String { String(decoding: type, as: UTF8.self) }
}

/// A journal that can hand its records out in place, for replays.
public protocol BorrowingJournal: Journal {
    /// Calls `body` with up to `limit` records after `position`, in position order, read in
    /// place in one read transaction; their bytes are valid only until `body` returns.
    /// `records` lends its room for them and is left empty: a replay passes the same array
    /// batch after batch (a batch of 4,096 is 352 KiB, which the allocator maps afresh
    /// each time it is made: page faults for every batch).
    func withRecords<T>(
        after position: UInt64, limit: Int, reusing records: inout [BorrowedRecord], _ body: ([BorrowedRecord]) -> T
    ) throws(JournalError) -> T

    /// Calls `body` with a reader of the records after `position`, in position order, all
    /// read in place in one read transaction that stays open until `body` returns. Each call
    /// of the reader appends up to `limit` records to `records`, those following the ones it
    /// appended before (none when the journal has no more). Every record read stays valid
    /// until `body` returns, so a replay can read the next batch while workers still fold
    /// the ones before it.
    func withRecordReader<T>(
        after position: UInt64,
        _ body: (_ read: (_ records: inout [BorrowedRecord], _ limit: Int) throws(JournalError) -> Void) -> T
    ) throws(JournalError) -> T
}

extension BorrowingJournal {
    /// ``withRecords(after:limit:reusing:_:)`` with room of its own.
    public func withRecords<T>(after position: UInt64, limit: Int, _ body: ([BorrowedRecord]) -> T) throws(JournalError) -> T {
        var records: [BorrowedRecord] = []
        return try withRecords(after: position, limit: limit, reusing: &records, body)
    }
}

extension RecordCodec {
    /// The record stored at `position`, its fields read in place, with the structure checks
    /// of ``decode(position:bytes:)`` (not its checksum).
    public static func borrow(position: UInt64, bytes: UnsafeRawBufferPointer) throws(JournalError) -> BorrowedRecord {
        var reader = ByteReader(bytes: bytes)
        guard let format = reader.readByte() else { throw corrupted(position, "the record is empty") }
        guard format == Self.format else {
            throw corrupted(position, "record format \(format) is not the supported format \(Self.format)")
        }
        guard
            let streamVersion = reader.readUInt64(),
            let recordedAt = reader.readUInt64(),
            let schemaVersion = reader.readUInt16(),
            let streamLength = reader.readByte(),
            let streamID = reader.borrowBytes(count: Int(streamLength)),
            let typeLength = reader.readByte(),
            let type = reader.borrowBytes(count: Int(typeLength)),
            let payloadLength = reader.readUInt32(),
            let payload = reader.borrowBytes(count: Int(payloadLength)),
            let checksum = reader.readUInt32()
        else { throw corrupted(position, "the record is truncated or its lengths are wrong") }
        guard reader.isAtEnd else { throw corrupted(position, "the record has trailing bytes") }
        return BorrowedRecord(
            position: position, streamVersion: streamVersion, recordedAt: Int64(bitPattern: recordedAt),
            schemaVersion: schemaVersion, streamID: streamID, type: type, payload: payload, checksum: checksum
        )
    }
}

extension Array where Element == RecordedEvent {
    /// The events as borrowed records, encoded into one buffer first: for a journal that
    /// cannot lend its own storage, so that one replay path serves every journal.
    public func withBorrowedRecords<T>(_ body: ([BorrowedRecord]) -> T) throws(JournalError) -> T {
        var buffer: [UInt8] = []
        var spans: [(position: UInt64, range: Range<Int>)] = []
        spans.reserveCapacity(count)
        for event in self {
            let start = buffer.count
            _ = RecordCodec.encode(
                position: event.position, streamID: event.streamID, streamVersion: event.streamVersion,
                event: ProposedEvent(type: event.type, schemaVersion: event.schemaVersion, recordedAt: event.recordedAt, payload: event.payload),
                previousChecksum: RecordCodec.genesisChecksum, appendingTo: &buffer  // not checked when read in place
            )
            spans.append((event.position, start..<buffer.count))
        }
        let result = buffer.withUnsafeBytes { raw in
            Result { () throws(JournalError) -> T in
                var records: [BorrowedRecord] = []
                records.reserveCapacity(spans.count)
                for span in spans {
                    records.append(try RecordCodec.borrow(position: span.position, bytes: UnsafeRawBufferPointer(rebasing: raw[span.range])))
                }
                return body(records)
            }
        }
        return try result.get()
    }
}
