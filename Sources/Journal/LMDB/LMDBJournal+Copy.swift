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
