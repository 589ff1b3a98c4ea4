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
