/// A projection snapshot as stored beside the journal: opaque bytes valid at a position.
public struct StoredSnapshot: Sendable, Hashable {
    /// The journal position the snapshot's state includes (every event up to it).
    public let position: UInt64
    /// What wrote the bytes and in which layout, e.g. `projections/2+tasks/5+runs/3+parts/64`; a reader that does
    /// not know the format ignores the snapshot.
    public let format: String
    /// The snapshot's bytes.
    public let bytes: [UInt8]

    /// Creates a stored snapshot.
    public init(position: UInt64, format: String, bytes: [UInt8]) {
        self.position = position
        self.format = format
        self.bytes = bytes
    }
}

/// Keeps projection snapshots beside a journal.
public protocol SnapshotStore: Sendable {
    /// Stores a snapshot, keeping only the most recent few.
    func saveSnapshot(_ snapshot: StoredSnapshot) async throws(JournalError)

    /// The newest snapshot at or before `position`, if any.
    func latestSnapshot(atOrBefore position: UInt64) async throws(JournalError) -> StoredSnapshot?

    /// Lends the newest snapshot at or before `position` (nil: none) to `body`, in place
    /// where the store can: its bytes are valid only until `body` returns.
    func withLatestSnapshot<Result>(
        atOrBefore position: UInt64, _ body: (BorrowedSnapshot?) -> Result
    ) async throws(JournalError) -> Result
}

extension SnapshotStore {
    /// Reads the snapshot out (``latestSnapshot(atOrBefore:)``) and lends it as one chunk.
    public func withLatestSnapshot<Result>(
        atOrBefore position: UInt64, _ body: (BorrowedSnapshot?) -> Result
    ) async throws(JournalError) -> Result {
        guard let snapshot = try await latestSnapshot(atOrBefore: position) else { return body(nil) }
        return snapshot.bytes.withUnsafeBytes { bytes in
            body(BorrowedSnapshot(position: snapshot.position, format: snapshot.format, chunks: [bytes]))
        }
    }
}

/// A stored snapshot lent in place: its bytes as the chunks they are stored in, in order
/// (``SnapshotStore/withLatestSnapshot(atOrBefore:_:)``). Reading a million tasks' snapshot
/// out of LMDB copied about a gigabyte into memory never touched before, on one core: a
/// second of a server's start (ADR 0015).
public struct BorrowedSnapshot {
    /// The journal position the snapshot's state includes.
    public let position: UInt64
    /// The snapshot's format (``StoredSnapshot/format``).
    public let format: String
    /// The snapshot's bytes, in order; valid only while lent.
    public let chunks: [UnsafeRawBufferPointer]

    public init(position: UInt64, format: String, chunks: [UnsafeRawBufferPointer]) {
        self.position = position
        self.format = format
        self.chunks = chunks
    }

    /// The number of bytes.
    public var count: Int { chunks.reduce(0) { $0 + $1.count } }
}

/// How many snapshots a store keeps.
let retainedSnapshots = 3

extension StoredSnapshot {
    /// The stored value: format length, format (UTF-8), bytes.
    var encoded: [UInt8] {
        var value: [UInt8] = [UInt8(min(format.utf8.count, 255))]
        value.append(contentsOf: format.utf8.prefix(255))
        value.append(contentsOf: bytes)
        return value
    }

    /// Reads a stored value written by ``encoded``.
    init?(position: UInt64, encoded value: UnsafeRawBufferPointer) {
        guard let length = value.first.map(Int.init), value.count >= 1 + length else { return nil }
        self.position = position
        self.format = String(decoding: UnsafeRawBufferPointer(rebasing: value[1..<(1 + length)]), as: UTF8.self)
        self.bytes = Array(UnsafeRawBufferPointer(rebasing: value[(1 + length)...]))
    }
}
