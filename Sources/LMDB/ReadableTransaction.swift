internal import CLMDB

/// The reading half of a transaction, shared by ``ReadTransaction`` and ``WriteTransaction``.
///
/// Every buffer handed out is valid only until the transaction ends.
public protocol ReadableTransaction: ~Copyable {
    /// The raw `MDB_txn` handle; used by this module only.
    var rawHandle: OpaquePointer { get }
}

extension ReadableTransaction where Self: ~Copyable {
    /// A copy of the value stored under `key`, or `nil` when there is none.
    public func value(forKey key: some RawBytes, in database: Database) throws(LMDBError) -> [UInt8]? {
        try withValue(forKey: key, in: database) { $0.map { Array($0) } }
    }

    /// Calls `body` with the bytes stored under `key` (or `nil`), without copying them.
    public func withValue<Result>(
        forKey key: some RawBytes,
        in database: Database,
        _ body: (UnsafeRawBufferPointer?) throws(LMDBError) -> Result
    ) throws(LMDBError) -> Result {
        var found = MDB_val()
        let status = key.withRawBytes { keyBytes in
            var keyValue = MDB_val(keyBytes)
            return mdb_get(rawHandle, database.dbi, &keyValue, &found)
        }
        if status == MDB_NOTFOUND { return try body(nil) }
        try check(status, "mdb_get(\(database.name))")
        return try body(found.buffer)
    }

    /// Runs `body` with a cursor over `database` that is closed when `body` returns.
    public func withCursor<Result>(
        in database: Database,
        _ body: (borrowing Cursor) throws -> Result
    ) throws -> Result {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(rawHandle, database.dbi, &cursor), "mdb_cursor_open(\(database.name))")
        guard let cursor else { throw LMDBError(returnCode: MDB_PANIC, operation: "mdb_cursor_open") }
        defer { mdb_cursor_close(cursor) }
        return try body(Cursor(handle: cursor, databaseName: database.name))
    }

    /// The number of entries in `database`.
    public func count(in database: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(rawHandle, database.dbi, &stat), "mdb_stat(\(database.name))")
        return stat.ms_entries
    }
}

/// A read-only transaction. Created only by ``Environment/withReadTransaction(_:)``.
public struct ReadTransaction: ~Copyable, ReadableTransaction {
    /// The raw `MDB_txn` handle.
    public let rawHandle: OpaquePointer
    init(handle: OpaquePointer) { self.rawHandle = handle }
}

/// A read-write transaction. Created only by ``Environment/withWriteTransaction(_:)``.
public struct WriteTransaction: ~Copyable, ReadableTransaction {
    /// How a value is put.
    public struct PutOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The key sorts after every existing key: a fast append (`MDB_APPEND`).
        public static let append = PutOptions(rawValue: UInt32(MDB_APPEND))
        /// Fail with ``LMDBError/Code/keyExists`` instead of overwriting (`MDB_NOOVERWRITE`).
        public static let noOverwrite = PutOptions(rawValue: UInt32(MDB_NOOVERWRITE))
    }

    /// The raw `MDB_txn` handle.
    public let rawHandle: OpaquePointer
    init(handle: OpaquePointer) { self.rawHandle = handle }

    /// Stores `value` under `key`.
    public func put(
        _ value: some RawBytes,
        forKey key: some RawBytes,
        in database: Database,
        options: PutOptions = []
    ) throws(LMDBError) {
        let status = key.withRawBytes { keyBytes in
            value.withRawBytes { valueBytes in
                var keyValue = MDB_val(keyBytes)
                var dataValue = MDB_val(valueBytes)
                return mdb_put(rawHandle, database.dbi, &keyValue, &dataValue, options.rawValue)
            }
        }
        try check(status, "mdb_put(\(database.name))")
    }

    /// Removes the value under `key`; returns whether there was one.
    @discardableResult
    public func delete(forKey key: some RawBytes, in database: Database) throws(LMDBError) -> Bool {
        let status = key.withRawBytes { keyBytes in
            var keyValue = MDB_val(keyBytes)
            return mdb_del(rawHandle, database.dbi, &keyValue, nil)
        }
        if status == MDB_NOTFOUND { return false }
        try check(status, "mdb_del(\(database.name))")
        return true
    }
}

extension MDB_val {
    init(_ bytes: UnsafeRawBufferPointer) {
        self.init(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    }

    var buffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }
}
