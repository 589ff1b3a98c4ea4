internal import CLMDB

/// An error returned by LMDB, with a code callers can switch on and a message that says
/// what to do about it.
public struct LMDBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; extensible, so new LMDB return codes do not break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The raw LMDB (or errno) return code.
        public let rawValue: Int32

        /// Creates a code from an LMDB return value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// A key/data pair already exists (`MDB_KEYEXIST`).
        public static let keyExists = Code(rawValue: MDB_KEYEXIST)
        /// No matching key/data pair was found (`MDB_NOTFOUND`).
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        /// A requested page was not found: the file is corrupted (`MDB_PAGE_NOTFOUND`).
        public static let pageNotFound = Code(rawValue: MDB_PAGE_NOTFOUND)
        /// The located page was the wrong type (`MDB_CORRUPTED`).
        public static let corrupted = Code(rawValue: MDB_CORRUPTED)
        /// A fatal error occurred earlier and the environment must be closed (`MDB_PANIC`).
        public static let panic = Code(rawValue: MDB_PANIC)
        /// The environment was written by an incompatible LMDB version (`MDB_VERSION_MISMATCH`).
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        /// The file is not an LMDB file (`MDB_INVALID`).
        public static let invalid = Code(rawValue: MDB_INVALID)
        /// The environment's map size is exhausted (`MDB_MAP_FULL`).
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        /// The environment's maximum number of named databases was reached (`MDB_DBS_FULL`).
        public static let databasesFull = Code(rawValue: MDB_DBS_FULL)
        /// The environment's reader table is full (`MDB_READERS_FULL`).
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        /// Too many thread-local storage keys are in use (`MDB_TLS_FULL`).
        public static let tlsFull = Code(rawValue: MDB_TLS_FULL)
        /// The transaction has too many dirty pages (`MDB_TXN_FULL`).
        public static let transactionFull = Code(rawValue: MDB_TXN_FULL)
        /// The cursor stack is too deep: internal error (`MDB_CURSOR_FULL`).
        public static let cursorFull = Code(rawValue: MDB_CURSOR_FULL)
        /// A page ran out of space: internal error (`MDB_PAGE_FULL`).
        public static let pageFull = Code(rawValue: MDB_PAGE_FULL)
        /// Another process grew the map beyond this process's mapping (`MDB_MAP_RESIZED`).
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        /// The operation is incompatible with the database's flags (`MDB_INCOMPATIBLE`).
        public static let incompatible = Code(rawValue: MDB_INCOMPATIBLE)
        /// A reader slot was reused or misused (`MDB_BAD_RSLOT`).
        public static let badReaderSlot = Code(rawValue: MDB_BAD_RSLOT)
        /// The transaction is no longer usable (`MDB_BAD_TXN`).
        public static let badTransaction = Code(rawValue: MDB_BAD_TXN)
        /// A key or value has an unsupported size (`MDB_BAD_VALSIZE`).
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        /// The database handle was changed unexpectedly (`MDB_BAD_DBI`).
        public static let badDatabase = Code(rawValue: MDB_BAD_DBI)
        /// The environment was closed (this wrapper's own code, outside LMDB's range).
        public static let closed = Code(rawValue: -30_000)

        public var description: String {
            switch self {
            case .keyExists: "keyExists"
            case .notFound: "notFound"
            case .pageNotFound: "pageNotFound"
            case .corrupted: "corrupted"
            case .panic: "panic"
            case .versionMismatch: "versionMismatch"
            case .invalid: "invalid"
            case .mapFull: "mapFull"
            case .databasesFull: "databasesFull"
            case .readersFull: "readersFull"
            case .tlsFull: "tlsFull"
            case .transactionFull: "transactionFull"
            case .cursorFull: "cursorFull"
            case .pageFull: "pageFull"
            case .mapResized: "mapResized"
            case .incompatible: "incompatible"
            case .badReaderSlot: "badReaderSlot"
            case .badTransaction: "badTransaction"
            case .badValueSize: "badValueSize"
            case .badDatabase: "badDatabase"
            case .closed: "closed"
            default: "errno(\(rawValue))"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// The LMDB call that failed, e.g. `mdb_put`.
    public let operation: String
    /// A sentence saying what happened and what to do about it.
    public let message: String

    /// Creates an error from an LMDB return code, choosing a message that says what to do.
    public init(returnCode: Int32, operation: String) {
        self.code = Code(rawValue: returnCode)
        self.operation = operation
        self.message = Self.advice(for: code, returnCode: returnCode)
    }

    public var description: String { "LMDB \(operation) failed (\(code)): \(message)" }

    /// The error for using an environment after `close()`.
    static let closedEnvironment = LMDBError(returnCode: Code.closed.rawValue, operation: "use after close")

    private static func advice(for code: Code, returnCode: Int32) -> String {
        switch code {
        case .mapFull:
            "the map is full; restart with a larger map size (the data file grows only as used)"
        case .readersFull:
            "the reader table is full; close idle readers or raise the maximum reader count"
        case .versionMismatch:
            "the environment was written by an incompatible LMDB version; open it with a matching liblmdb"
        case .invalid:
            "the file is not an LMDB environment; check the data directory path"
        case .corrupted, .pageNotFound:
            "the data file is corrupted; restore it from a snapshot"
        case .panic:
            "LMDB hit a fatal error; restart the process"
        case .databasesFull:
            "too many named databases; raise the maximum database count"
        case .mapResized:
            "another process grew the map; reopen the environment to adopt the new size"
        case .closed:
            "the environment is closed"
        case .transactionFull:
            "the transaction is too large; write in smaller batches"
        case .badValueSize:
            "a key or value is empty or too large for LMDB"
        case .notFound:
            "no such key or named database"
        case .keyExists:
            "the key already exists"
        case .incompatible:
            "the operation does not match the database's flags"
        default:
            returnCode > 0
                ? "system error: \(String(cString: mdb_strerror(returnCode)))"
                : String(cString: mdb_strerror(returnCode))
        }
    }
}

/// Throws an ``LMDBError`` unless `returnCode` is `MDB_SUCCESS`.
@inline(__always)
func check(_ returnCode: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if returnCode != MDB_SUCCESS {
        throw LMDBError(returnCode: returnCode, operation: operation())
    }
}
