internal import CLMDB

/// A handle to a named database inside an ``Environment``; valid for the environment's life.
public struct Database: Sendable, Hashable {
    /// The database's name in the environment.
    public let name: String
    let dbi: MDB_dbi
}
