/// The records of one group commit, stored as one LMDB value keyed by its first position.
///
/// ```
/// u8 segment format (1) | u32 record count n | n × u32 record end offsets | records
/// ```
/// Offsets are big-endian and count from the start of the records area. One value per
/// commit lets LMDB write a commit's records as one contiguous run of overflow pages, so
/// a commit's fsync covers a handful of extents rather than one scattered page per few
/// events (see ADR 0002).
enum Segment {
    /// The segment format this code writes and reads.
    static let format: UInt8 = 1

    /// Collects encoded records and lays them out as a segment.
    struct Builder {
        private(set) var records: [UInt8] = []
        private(set) var ends: [UInt32] = []

        var count: Int { ends.count }

        /// Appends one record, encoded by `encode` onto the end of the records area.
        mutating func append(_ encode: (inout [UInt8]) -> Void) {
            encode(&records)
            ends.append(UInt32(records.count))
        }

        /// Writes the finished segment into `buffer`, replacing its contents.
        func finish(into buffer: inout [UInt8]) {
            buffer.removeAll(keepingCapacity: true)
            buffer.reserveCapacity(5 + 4 * ends.count + records.count)
            buffer.append(Segment.format)
            buffer.appendBigEndian(UInt32(ends.count))
            for end in ends { buffer.appendBigEndian(end) }
            buffer.append(contentsOf: records)
        }

        mutating func reset() {
            records.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
        }
    }

    /// A segment's bytes, checked for structure, with O(1) access to each record.
    struct View {
        let bytes: UnsafeRawBufferPointer
        let count: Int
        private let recordsStart: Int

        /// Checks the header and offsets; nil when they are damaged.
        init?(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count >= 5, bytes[0] == Segment.format else { return nil }
            let count = Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
            let recordsStart = 5 + 4 * count
            guard count > 0, bytes.count >= recordsStart else { return nil }
            self.bytes = bytes
            self.count = count
            self.recordsStart = recordsStart
            var previous = 0
            for index in 0..<count {
                let end = end(of: index)
                guard end > previous, recordsStart + end <= bytes.count else { return nil }
                previous = end
            }
            guard recordsStart + previous == bytes.count else { return nil }
        }

        private func end(of index: Int) -> Int {
            Int(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 5 + 4 * index, as: UInt32.self)))
        }

        /// The bytes of record `index` (0-based).
        func record(_ index: Int) -> UnsafeRawBufferPointer {
            let start = index == 0 ? 0 : end(of: index - 1)
            return UnsafeRawBufferPointer(rebasing: bytes[(recordsStart + start)..<(recordsStart + end(of: index))])
        }
    }
}
