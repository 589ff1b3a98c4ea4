/// The keys of the LMDB journal's named databases (see docs/journal-format.md).
enum JournalLayout {
    /// Named database holding records, keyed by global position.
    static let eventsDatabase = "events"
    /// Named database mapping (stream id, stream version) to global position.
    static let streamsDatabase = "streams"
    /// Named database holding the journal's format version and identity.
    static let metaDatabase = "meta"
    /// Named database reserved for projection snapshots keyed by position.
    static let snapshotsDatabase = "snapshots"

    /// Meta key: the journal format version (u32, big-endian).
    static let formatKey = "format-version"
    /// Meta key: the journal's random identity (16 bytes).
    static let identityKey = "journal-id"
    /// Meta key: every record up to this position (u64, big-endian) has its streams entry.
    static let indexedThroughKey = "indexed-through"

    /// The events key: the position, big-endian, so LMDB's byte order is position order.
    static func eventKey(_ position: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(8)
        key.appendBigEndian(position)
        return key
    }

    /// The streams key: stream id length, stream id, version (big-endian).
    static func streamKey(_ stream: StreamID, version: UInt64) -> [UInt8] {
        var key = streamPrefix(stream)
        key.appendBigEndian(version)
        return key
    }

    /// The part of a streams key shared by every version of one stream.
    static func streamPrefix(_ stream: StreamID) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(stream.rawValue.utf8.count + 9)
        key.append(UInt8(stream.rawValue.utf8.count))
        key.append(contentsOf: stream.rawValue.utf8)
        return key
    }

    /// Reads a big-endian `UInt64` from an 8-byte buffer.
    static func uint64(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }
}
