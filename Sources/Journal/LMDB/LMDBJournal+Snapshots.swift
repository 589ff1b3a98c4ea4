import LMDB

/// Snapshots in the `snapshots` database, written in chunks.
///
/// LMDB has one writer, and the journal's appends share it. A snapshot of a million tasks is
/// hundreds of MiB: written in one transaction, it held every append back for seconds. So a
/// snapshot is written as chunks of ``snapshotChunkSize`` bytes, each in a transaction of its
/// own between appends, under the keys `<position><chunk number>` (8 + 4 bytes, big-endian),
/// and then published by its manifest under `<position>` (8 bytes): a reader only sees
/// snapshots whose manifest is there, and the manifest is written after every chunk. Chunks
/// left by a save that did not finish are removed by the next save.
///
/// A manifest holds `SNP2`, the chunk count (4 bytes), the byte count (8 bytes), the format's
/// length (1 byte) and the format. A value under an 8-byte key without that prefix is a
/// snapshot of the layout before chunks (format length, format, bytes), still read.
extension LMDBJournal: SnapshotStore {
    /// The most bytes written in one transaction.
    static let snapshotChunkSize = 2 << 20

    private static let manifestMagic: [UInt8] = Array("SNP2".utf8)

    /// Stores the snapshot under its position, keeping the newest three. One save at a time:
    /// a save removes the chunks of any other unpublished snapshot.
    public func saveSnapshot(_ snapshot: StoredSnapshot) async throws(JournalError) {
        guard let writer else { throw JournalError(code: .readOnly, message: "the journal was opened read-only") }
        let snapshots = self.snapshots
        let bytes = snapshot.bytes
        let chunkCount = max(1, (bytes.count + Self.snapshotChunkSize - 1) / Self.snapshotChunkSize)
        for chunk in 0..<chunkCount {
            let range = (chunk * Self.snapshotChunkSize)..<min(bytes.count, (chunk + 1) * Self.snapshotChunkSize)
            let key = Self.chunkKey(snapshot.position, chunk)
            try await writer.perform { txn in
                try bytes.withUnsafeBytes { all in
                    try txn.put(UnsafeRawBufferPointer(rebasing: all[range]), forKey: key, in: snapshots)
                }
            }
        }
        var manifest = Self.manifestMagic
        manifest.appendBigEndian(UInt32(chunkCount))
        manifest.appendBigEndian(UInt64(bytes.count))
        manifest.append(UInt8(min(snapshot.format.utf8.count, 255)))
        manifest.append(contentsOf: snapshot.format.utf8.prefix(255))
        let published = manifest
        try await writer.perform { txn in
            try txn.put(published, forKey: JournalLayout.eventKey(snapshot.position), in: snapshots)
            // Keep the newest three published snapshots; remove the rest, and chunks of
            // snapshots never published.
            var manifests: [UInt64] = []
            var chunks: [(position: UInt64, key: [UInt8])] = []
            try txn.withCursor(in: snapshots) { cursor in
                var entry = try cursor.first()
                while let (key, _) = entry {
                    if let position = JournalLayout.uint64(key) {
                        manifests.append(position)
                    } else if key.count == 12 {
                        chunks.append((UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)), Array(key)))
                    }
                    entry = try cursor.next()
                }
            }
            let kept = Set(manifests.suffix(retainedSnapshots))
            for position in manifests where !kept.contains(position) {
                try txn.delete(forKey: JournalLayout.eventKey(position), in: snapshots)
            }
            for chunk in chunks where !kept.contains(chunk.position) {
                try txn.delete(forKey: chunk.key, in: snapshots)
            }
        }
    }

    public func latestSnapshot(atOrBefore position: UInt64) async throws(JournalError) -> StoredSnapshot? {
        try run { txn in
            guard let (stored, value) = try Self.latestManifest(atOrBefore: position, in: snapshots, txn: txn) else { return nil }
            guard value.starts(with: Self.manifestMagic) else {
                return value.withUnsafeBytes { StoredSnapshot(position: stored, encoded: $0) }
            }
            return try readChunks(of: stored, manifest: value, txn: txn)
        }
    }

    public func withLatestSnapshot<Result>(
        atOrBefore position: UInt64, _ body: (BorrowedSnapshot?) -> Result
    ) async throws(JournalError) -> Result {
        try run { txn in
            guard let (stored, value) = try Self.latestManifest(atOrBefore: position, in: snapshots, txn: txn) else { return body(nil) }
            guard value.starts(with: Self.manifestMagic) else {
                return value.withUnsafeBytes { encoded in
                    guard let length = encoded.first.map(Int.init), encoded.count >= 1 + length else { return body(nil) }
                    return body(BorrowedSnapshot(
                        position: stored,
                        format: String(decoding: UnsafeRawBufferPointer(rebasing: encoded[1..<(1 + length)]), as: UTF8.self),
                        chunks: [UnsafeRawBufferPointer(rebasing: encoded[(1 + length)...])]
                    ))
                }
            }
            guard let manifest = Self.manifest(value) else { return body(nil) }
            var chunks: [UnsafeRawBufferPointer] = []
            chunks.reserveCapacity(manifest.chunkCount)
            for chunk in 0..<manifest.chunkCount {
                // The bytes lie in the map and stay valid while this read transaction is open.
                guard let bytes = try txn.withValue(forKey: Self.chunkKey(stored, chunk), in: snapshots, { $0 }) else { return body(nil) }
                chunks.append(bytes)
            }
            guard chunks.reduce(0, { $0 + $1.count }) == Int(manifest.byteCount) else { return body(nil) }
            return body(BorrowedSnapshot(position: stored, format: manifest.format, chunks: chunks))
        }
    }

    /// The newest manifest (or whole snapshot of the older layout) at or before `position`.
    private static func latestManifest(
        atOrBefore position: UInt64, in snapshots: Database, txn: borrowing ReadTransaction
    ) throws -> (position: UInt64, value: [UInt8])? {
        try txn.withCursor(in: snapshots) { cursor in
            // Every key of a position at or before `position` sorts before the key of the
            // next position: step back from there to the first manifest.
            var entry: Cursor.Entry?
            if position == .max {
                entry = try cursor.last()
            } else {
                entry = try cursor.seek(atLeast: JournalLayout.eventKey(position + 1)) == nil ? try cursor.last() : try cursor.previous()
            }
            while let (key, _) = entry, key.count != 8 { entry = try cursor.previous() }
            guard let (key, value) = entry, let stored = JournalLayout.uint64(key), stored <= position else { return nil }
            return (stored, Array(value))
        }
    }

    /// A manifest's chunk count, byte count and format; nil when it is not whole.
    private static func manifest(_ manifest: [UInt8]) -> (chunkCount: Int, byteCount: UInt64, format: String)? {
        var offset = manifestMagic.count
        guard manifest.count >= offset + 13 else { return nil }
        let (chunkCount, byteCount) = manifest.withUnsafeBytes { raw in
            (Int(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt64.self)))
        }
        offset += 12
        let formatLength = Int(manifest[offset])
        offset += 1
        guard manifest.count == offset + formatLength, byteCount <= UInt64(chunkCount) * UInt64(snapshotChunkSize) else {
            return nil
        }
        return (chunkCount, byteCount, String(decoding: manifest[offset...], as: UTF8.self))
    }

    /// The snapshot a manifest publishes, its chunks read in the same transaction; nil when
    /// the manifest or a chunk is not whole.
    private func readChunks(of position: UInt64, manifest: [UInt8], txn: borrowing ReadTransaction) throws -> StoredSnapshot? {
        guard let (chunkCount, byteCount, format) = Self.manifest(manifest) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(byteCount))
        for chunk in 0..<chunkCount {
            let whole = try txn.withValue(forKey: Self.chunkKey(position, chunk), in: snapshots) { value in
                guard let value else { return false }
                bytes.append(contentsOf: value)
                return true
            }
            guard whole else { return nil }
        }
        guard bytes.count == Int(byteCount) else { return nil }
        return StoredSnapshot(position: position, format: format, bytes: bytes)
    }

    /// The key of chunk `chunk` of the snapshot at `position`.
    private static func chunkKey(_ position: UInt64, _ chunk: Int) -> [UInt8] {
        var key = JournalLayout.eventKey(position)
        key.appendBigEndian(UInt32(chunk))
        return key
    }
}
