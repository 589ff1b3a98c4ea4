internal import CLMDB
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open LMDB environment: one data directory, opened once per process.
///
/// Transactions are only reachable through ``withReadTransaction(_:)`` and
/// ``withWriteTransaction(_:)``, whose synchronous closures keep each transaction on one
/// thread from start to finish and keep it from escaping or crossing an `await`.
public final class Environment: Sendable {
    /// Settings for opening an environment.
    public struct Options: Sendable, Hashable {
        /// The maximum size of the memory map, in bytes; the data file grows only as used.
        public var mapSize: Int
        /// The maximum number of named databases.
        public var maxDatabases: Int
        /// The maximum number of concurrent read transactions across all processes.
        public var maxReaders: Int
        /// Opens the environment read-only (for offline tools beside a running writer).
        public var readOnly: Bool
        /// Whether commits fsync. Only tests that measure something else may turn this off.
        public var durable: Bool

        /// Creates options; the defaults suit a journal: a large map, durable commits.
        public init(
            mapSize: Int = 8 << 30,
            maxDatabases: Int = 8,
            maxReaders: Int = 256,
            readOnly: Bool = false,
            durable: Bool = true
        ) {
            self.mapSize = mapSize
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
            self.readOnly = readOnly
            self.durable = durable
        }
    }

    /// Figures about the environment's map and readers.
    public struct Info: Sendable, Hashable {
        /// The size of the memory map in bytes.
        public var mapSize: Int
        /// The number of the last page used (pages are `pageSize` bytes).
        public var lastPageNumber: Int
        /// The id of the last committed transaction.
        public var lastTransactionID: Int
        /// The maximum number of reader slots.
        public var maxReaders: Int
        /// The number of reader slots in use.
        public var readersInUse: Int
        /// The page size in bytes.
        public var pageSize: Int
    }

    // The raw pointer is immutable after init; LMDB's environment handle is thread-safe for
    // everything we call on it (transactions carry their own thread discipline).
    nonisolated(unsafe) let handle: OpaquePointer
    /// The options the environment was opened with.
    public let options: Options
    /// The directory holding `data.mdb` and `lock.mdb`.
    public let path: String
    /// Counts transactions in progress, so `close()` can wait for them, and refuses new
    /// ones once closing has begun (using a closed environment would touch freed memory).
    private let gate = Mutex<(closed: Bool, active: Int)>((false, 0))

    /// Opens (creating if needed, unless read-only) the environment in directory `path`.
    ///
    /// Stale reader slots left by dead processes are cleared at open (`mdb_reader_check`).
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(returnCode: MDB_PANIC, operation: "mdb_env_create") }
        do {
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)), "mdb_env_set_maxreaders")
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if !options.durable { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, 0o600), "mdb_env_open(\(path))")
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "mdb_reader_check")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.handle = env
        self.options = options
        self.path = path
    }

    deinit { close() }

    /// Closes the environment once the transactions in progress end; later calls fail with
    /// ``LMDBError/Code/closed``.
    public func close() {
        let first = gate.withLock { gate in
            defer { gate.closed = true }
            return !gate.closed
        }
        guard first else { return }
        // Transactions are short and synchronous: wait for the ones in flight to finish.
        while gate.withLock({ $0.active }) > 0 { sched_yield() }
        mdb_env_close(handle)
    }

    /// Runs `body` while counted as in progress, or throws if the environment is closed.
    private func entering<Result>(_ body: () throws -> Result) throws -> Result {
        let open = gate.withLock { gate in
            if gate.closed { return false }
            gate.active += 1
            return true
        }
        guard open else { throw LMDBError.closedEnvironment }
        defer { gate.withLock { $0.active -= 1 } }
        return try body()
    }

    /// Like ``entering(_:)`` for bodies that throw only ``LMDBError``.
    private func enteringTyped<Result>(_ body: () throws(LMDBError) -> Result) throws(LMDBError) -> Result {
        do {
            return try entering { try body() }
        } catch let error as LMDBError {
            throw error
        } catch {
            throw LMDBError(returnCode: MDB_PANIC, operation: "unexpected \(error)")
        }
    }

    /// Runs `body` in a read-only transaction that ends when `body` returns.
    ///
    /// Bytes read are valid only inside `body`: copy them out before returning. Errors from
    /// LMDB are ``LMDBError``; errors `body` throws pass through unchanged.
    public func withReadTransaction<Result>(
        _ body: (borrowing ReadTransaction) throws -> Result
    ) throws -> Result {
        try entering {
            let txn = try beginTransaction(flags: UInt32(MDB_RDONLY))
            defer { mdb_txn_abort(txn) }
            return try body(ReadTransaction(handle: txn))
        }
    }

    /// Runs `body` in a write transaction, committing when it returns and aborting when it
    /// throws. The commit is durable (fsynced) when it returns, unless opened non-durable.
    public func withWriteTransaction<Result>(
        _ body: (borrowing WriteTransaction) throws -> Result
    ) throws -> Result {
        try entering {
            let txn = try beginTransaction(flags: 0)
            let result: Result
            do {
                result = try body(WriteTransaction(handle: txn))
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
            return result
        }
    }

    /// Opens a named database, creating it when `create` is set (needs a writable environment).
    public func openDatabase(named name: String, create: Bool) throws(LMDBError) -> Database {
        try enteringTyped { () throws(LMDBError) in try openDatabaseUnguarded(named: name, create: create) }
    }

    private func openDatabaseUnguarded(named name: String, create: Bool) throws(LMDBError) -> Database {
        let flags: UInt32 = create ? UInt32(MDB_CREATE) : 0
        let txn = try beginTransaction(flags: options.readOnly ? UInt32(MDB_RDONLY) : 0)
        var dbi: MDB_dbi = 0
        let status = mdb_dbi_open(txn, name, flags, &dbi)
        guard status == MDB_SUCCESS else {
            mdb_txn_abort(txn)
            throw LMDBError(returnCode: status, operation: "mdb_dbi_open(\(name))")
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
        return Database(name: name, dbi: dbi)
    }

    /// Clears reader slots left by processes that died; returns how many were cleared.
    @discardableResult
    public func checkReaders() throws(LMDBError) -> Int {
        try enteringTyped { () throws(LMDBError) in
            var dead: Int32 = 0
            try check(mdb_reader_check(handle, &dead), "mdb_reader_check")
            return Int(dead)
        }
    }

    /// Writes a consistent copy of the environment into directory `path` (which must exist and
    /// be empty), optionally compacting it. Safe while writers run.
    public func copy(to path: String, compact: Bool) throws(LMDBError) {
        try enteringTyped { () throws(LMDBError) in
            try check(
                mdb_env_copy2(handle, path, compact ? UInt32(MDB_CP_COMPACT) : 0),
                "mdb_env_copy2(\(path))"
            )
        }
    }

    /// Flushes the data buffers to disk (useful after non-durable writes).
    public func sync() throws(LMDBError) {
        try enteringTyped { () throws(LMDBError) in try check(mdb_env_sync(handle, 1), "mdb_env_sync") }
    }

    /// Current figures about the map and readers.
    public func info() throws(LMDBError) -> Info {
        try enteringTyped { () throws(LMDBError) in try infoUnguarded() }
    }

    private func infoUnguarded() throws(LMDBError) -> Info {
        var info = MDB_envinfo()
        try check(mdb_env_info(handle, &info), "mdb_env_info")
        var stat = MDB_stat()
        try check(mdb_env_stat(handle, &stat), "mdb_env_stat")
        return Info(
            mapSize: info.me_mapsize,
            lastPageNumber: info.me_last_pgno,
            lastTransactionID: info.me_last_txnid,
            maxReaders: Int(info.me_maxreaders),
            readersInUse: Int(info.me_numreaders),
            pageSize: Int(stat.ms_psize)
        )
    }

    /// Begins a raw transaction.
    ///
    /// `MDB_MAP_RESIZED` (another process grew the map) is returned as an error rather than
    /// adopted: adopting remaps the file, which is only safe with no transaction active in
    /// the process, and other threads may be reading. Reopening adopts the new size.
    private func beginTransaction(flags: UInt32) throws(LMDBError) -> OpaquePointer {
        var txn: OpaquePointer?
        let status = mdb_txn_begin(handle, nil, flags, &txn)
        try check(status, "mdb_txn_begin")
        guard let txn else { throw LMDBError(returnCode: MDB_PANIC, operation: "mdb_txn_begin") }
        return txn
    }
}
