import CFileSystem
import Glibc
import LMDB

extension LMDBJournal {
    /// Writes a consistent, compacted copy of the journal's data file (`data.mdb`) into
    /// `directory`, which must exist and be empty. Safe while the writer appends: the copy is
    /// the journal as of one read transaction.
    public func copy(to directory: String, compact: Bool = true) throws(JournalError) {
        do {
            try environment.copy(to: directory, compact: compact)
        } catch {
            throw Self.journalError(error)
        }
    }

    /// Runs `body` while holding the writer lock of the journal in `directory`, so that no
    /// server can open it for writing meanwhile; throws ``JournalError/Code/locked`` at once if
    /// one holds it now.
    public static func withWriterLock<Result>(directory: String, _ body: () throws -> Result) throws -> Result {
        let lock = try WriterLock(directory: directory)
        defer { lock.release() }
        return try body()
    }
}

extension LMDBJournal {
    /// Puts the journal directory `replacement` in the place of `directory`, keeping the old
    /// one as `backup` (or, if that name is taken, `backup-2`, `backup-3`, …), while holding
    /// `directory`'s writer lock (``JournalError/Code/locked`` at once if a server holds it).
    /// Returns where the old journal is kept. Once the new journal is in place it never
    /// throws: the old one is never lost to a failed rename, only left under another name.
    ///
    /// The two are exchanged atomically where the kernel and file system allow it, so
    /// `directory` never stops existing and a server starting meanwhile finds either the old
    /// journal (and is refused by the lock) or the new one. Elsewhere it falls back to two
    /// renames, undoing the first if the second fails.
    @discardableResult
    public static func replaceDirectory(_ directory: String, with replacement: String, keepingOldAs backup: String) throws -> String {
        try withWriterLock(directory: directory) {
            if almanac_rename(replacement, directory, UInt32(ALMANAC_RENAME_EXCHANGE)) == 0 {
                // The old journal is at `replacement` now: give it the backup name, if one is free.
                for suffix in [""] + (2...99).map({ "-\($0)" }) {
                    let candidate = backup + suffix
                    if almanac_rename(replacement, candidate, UInt32(ALMANAC_RENAME_NOREPLACE)) == 0 { return candidate }
                    if errno == EEXIST { continue }
                    guard errno == ENOSYS || errno == EINVAL else { break }
                    // No RENAME_NOREPLACE here: a name nothing holds, then a plain rename.
                    if access(candidate, F_OK) == 0 { continue }
                    if rename(replacement, candidate) == 0 { return candidate }
                    break
                }
                return replacement
            }
            guard errno == ENOSYS || errno == EINVAL else { throw storageError("cannot exchange \(replacement) and \(directory)") }
            var kept = backup
            for suffix in [""] + (2...99).map({ "-\($0)" }) where access(backup + suffix, F_OK) != 0 {
                kept = backup + suffix
                break
            }
            guard rename(directory, kept) == 0 else { throw storageError("cannot move \(directory) aside") }
            guard rename(replacement, directory) == 0 else {
                let failure = storageError("cannot move \(replacement) to \(directory)")
                guard rename(kept, directory) == 0 else {
                    throw storageError("\(failure.message); the old journal is at \(kept): move it back by hand")
                }
                throw failure
            }
            return kept
        }
    }

    /// Moves the data file of the (closed) journal in `staging` into `directory`, which must
    /// not hold one, while holding `directory`'s writer lock. Refuses rather than overwrite.
    public static func adoptDataFile(from staging: String, into directory: String) throws {
        try withWriterLock(directory: directory) {
            let source = staging + "/data.mdb", target = directory + "/data.mdb"
            if almanac_rename(source, target, UInt32(ALMANAC_RENAME_NOREPLACE)) == 0 { return }
            if errno == EEXIST { throw storageError("\(directory) holds a journal now; nothing was replaced") }
            guard errno == ENOSYS || errno == EINVAL else { throw storageError("cannot move \(source) to \(target)") }
            // Without RENAME_NOREPLACE: a hard link fails if the target exists.
            guard link(source, target) == 0 else { throw storageError("cannot move \(source) to \(target)") }
            unlink(source)
        }
    }

    private static func storageError(_ message: String) -> JournalError {
        JournalError(code: .storage, message: "\(message): \(String(cString: strerror(errno)))")
    }
}
