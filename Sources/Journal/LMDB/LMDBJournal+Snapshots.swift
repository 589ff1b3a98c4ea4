import LMDB

extension LMDBJournal: SnapshotStore {
    /// Stores the snapshot in the `snapshots` database under its position (big-endian),
    /// keeping the newest three; written on the writer thread between commits.
    public func saveSnapshot(_ snapshot: StoredSnapshot) async throws(JournalError) {
        guard let writer else { throw JournalError(code: .readOnly, message: "the journal was opened read-only") }
        let snapshots = self.snapshots
        let value = snapshot.encoded
        try await writer.perform { txn in
            try txn.put(value, forKey: JournalLayout.eventKey(snapshot.position), in: snapshots)
            var positions: [UInt64] = []
            try txn.withCursor(in: snapshots) { cursor in
                var entry = try cursor.first()
                while let (key, _) = entry {
                    if let position = JournalLayout.uint64(key) { positions.append(position) }
                    entry = try cursor.next()
                }
            }
            for position in positions.dropLast(retainedSnapshots) {
                try txn.delete(forKey: JournalLayout.eventKey(position), in: snapshots)
            }
        }
    }

    public func latestSnapshot(atOrBefore position: UInt64) async throws(JournalError) -> StoredSnapshot? {
        try run { txn in
            try txn.withCursor(in: snapshots) { cursor in
                // The first snapshot at or after `position`; if it is not exactly there, the
                // one before it (or the last one, when none is after) is the newest before.
                let atOrAfter = try cursor.seek(atLeast: JournalLayout.eventKey(position))
                let entry = atOrAfter.flatMap { JournalLayout.uint64($0.key) } == position
                    ? atOrAfter : (atOrAfter == nil ? try cursor.last() : try cursor.previous())
                guard let (key, value) = entry, let stored = JournalLayout.uint64(key), stored <= position else { return nil }
                return StoredSnapshot(position: stored, encoded: value)
            }
        }
    }
}
