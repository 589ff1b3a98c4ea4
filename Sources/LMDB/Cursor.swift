internal import CLMDB

/// A cursor over one database. Created only by ``ReadableTransaction/withCursor(in:_:)``.
///
/// Every entry it returns is valid only until the transaction ends or the cursor moves on.
public struct Cursor: ~Copyable {
    /// A key and its value, borrowed from the map.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    let handle: OpaquePointer
    let databaseName: String

    /// Moves to the first entry.
    public func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST).get() }

    /// Moves to the last entry.
    public func last() throws(LMDBError) -> Entry? { try move(MDB_LAST).get() }

    /// Moves to the next entry.
    public func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT).get() }

    /// Moves to the previous entry.
    public func previous() throws(LMDBError) -> Entry? { try move(MDB_PREV).get() }

    /// Moves to the first entry whose key is greater than or equal to `key`.
    public func seek(atLeast key: some RawBytes) throws(LMDBError) -> Entry? {
        try key.withRawBytes { move(MDB_SET_RANGE, key: $0) }.get()
    }

    /// Moves to the entry whose key equals `key`.
    public func seek(exactly key: some RawBytes) throws(LMDBError) -> Entry? {
        try key.withRawBytes { move(MDB_SET_KEY, key: $0) }.get()
    }

    private func move(_ operation: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil) -> Result<Entry?, LMDBError> {
        var keyValue = key.map(MDB_val.init) ?? MDB_val()
        var dataValue = MDB_val()
        let status = mdb_cursor_get(handle, &keyValue, &dataValue, operation)
        if status == MDB_NOTFOUND { return .success(nil) }
        guard status == MDB_SUCCESS else {
            return .failure(LMDBError(returnCode: status, operation: "mdb_cursor_get(\(databaseName))"))
        }
        return .success((keyValue.buffer, dataValue.buffer))
    }
}
