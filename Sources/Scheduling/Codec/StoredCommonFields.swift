import Synchronization

/// The shared fields of stored definitions (``TaskDefinition/Common``) by the bytes that
/// store them: a replay or a snapshot reads a million definitions made from a few
/// templates, and each of them then finds its template's object without making its labels,
/// headers and body again only to find them equal to one in use (``SharedParts``).
///
/// A memo, not state: the same bytes of the same schema version always read as equal
/// fields, so using it cannot change any result.
enum StoredCommonFields {
    /// Bytes seen and what they read as.
    private struct Entry {
        let schemaVersion: UInt16
        let labels: [UInt8]
        let shared: [UInt8]
        let common: TaskDefinition.Common

        func holds(schemaVersion version: UInt16, labels: UnsafeRawBufferPointer, shared: UnsafeRawBufferPointer) -> Bool {
            version == schemaVersion
                && self.labels.withUnsafeBytes { OccurrenceText.same($0, labels) }
                && self.shared.withUnsafeBytes { OccurrenceText.same($0, shared) }
        }
    }

    private struct Table {
        var byHash: [UInt64: [Entry]] = [:]
        var count = 0
    }

    private static let table = Mutex(Table())

    /// The most entries kept; past it the memo starts again (unique fields only churn it).
    /// At most a few megabytes.
    static let capacity = 16_384

    /// The object that `labels` and `shared` (the fields stored after a definition's URL)
    /// of schema version `schemaVersion` read as: one seen before, or `read()`'s.
    static func common<Failure: Error>(
        schemaVersion: UInt16, labels: UnsafeRawBufferPointer, shared: UnsafeRawBufferPointer,
        read: () throws(Failure) -> TaskDefinition.Common
    ) throws(Failure) -> TaskDefinition.Common {
        let hash = hash(of: shared, seed: hash(of: labels, seed: UInt64(schemaVersion)))
        let known = table.withLock { table in
            table.byHash[hash]?.first { $0.holds(schemaVersion: schemaVersion, labels: labels, shared: shared) }?.common
        }
        if let known { return known }
        let common = try read()
        table.withLock { table in
            if table.count >= capacity {
                table.byHash.removeAll(keepingCapacity: true)
                table.count = 0
            }
            table.byHash[hash, default: []].append(Entry(
                schemaVersion: schemaVersion, labels: Array(labels), shared: Array(shared), common: common
            ))
            table.count += 1
        }
        return common
    }

    /// A 64-bit hash of `bytes`, eight at a time (a multiply and a shift per word).
    static func hash(of bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var hash = seed ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
        var offset = 0
        func mix(_ word: UInt64) {
            hash = (hash ^ word) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 31
        }
        while offset + 8 <= bytes.count {
            mix(bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        mix(tail)
        return hash
    }
}
