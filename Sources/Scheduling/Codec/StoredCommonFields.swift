import Synchronization

/// The shared fields of stored definitions (``TaskDefinition/Common``) by the bytes that
/// store them: a replay or a snapshot reads a million definitions made from a few
/// templates, and each of them then finds its template's object without making its labels,
/// headers and body again only to find them equal to one in use (``SharedParts``).
///
/// A memo, not state: the same bytes of the same schema version always read as equal
/// fields, so using it cannot change any result.
enum StoredCommonFields {
    /// Bytes seen and what they read as, within a count and a size of bytes copied.
    struct Table {
        private struct Entry: Sendable {
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

        private var kept: BoundedBuckets<UInt64, Entry>
        var count: Int { kept.count }
        var bytes: Int { kept.bytes }

        init(capacity: Int, byteCapacity: Int) { kept = BoundedBuckets(capacity: capacity, byteCapacity: byteCapacity) }

        /// The object kept for these bytes, whose hash is `hash`, if any.
        func common(
            hash: UInt64, schemaVersion: UInt16, labels: UnsafeRawBufferPointer, shared: UnsafeRawBufferPointer
        ) -> TaskDefinition.Common? {
            kept.first(hash) { $0.holds(schemaVersion: schemaVersion, labels: labels, shared: shared) }?.common
        }

        /// Keeps `common` as what these bytes, whose hash is `hash`, read as.
        mutating func remember(
            _ common: TaskDefinition.Common, hash: UInt64, schemaVersion: UInt16,
            labels: UnsafeRawBufferPointer, shared: UnsafeRawBufferPointer
        ) {
            let entry = Entry(schemaVersion: schemaVersion, labels: Array(labels), shared: Array(shared), common: common)
            kept.insert(entry, hash: hash, size: labels.count + shared.count)
        }
    }

    /// At most 16,384 entries and 8 MiB of copied bytes.
    private static let table = Mutex(Table(capacity: 16_384, byteCapacity: 8 << 20))

    /// Fields stored in more bytes than this are read each time, not kept: a template's
    /// large body would cost its copy here for little.
    static let largest = 16 << 10

    /// The object that `labels` and `shared` (the fields stored after a definition's URL)
    /// of schema version `schemaVersion` read as: one seen before, or `read()`'s.
    static func common<Failure: Error>(
        schemaVersion: UInt16, labels: UnsafeRawBufferPointer, shared: UnsafeRawBufferPointer,
        read: () throws(Failure) -> TaskDefinition.Common
    ) throws(Failure) -> TaskDefinition.Common {
        guard labels.count + shared.count <= largest else { return try read() }
        let hash = hash(of: shared, seed: hash(of: labels, seed: UInt64(schemaVersion)))
        if let known = table.withLock({ $0.common(hash: hash, schemaVersion: schemaVersion, labels: labels, shared: shared) }) {
            return known
        }
        let common = try read()
        table.withLock { $0.remember(common, hash: hash, schemaVersion: schemaVersion, labels: labels, shared: shared) }
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
