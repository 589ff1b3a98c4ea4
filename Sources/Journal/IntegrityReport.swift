/// What a full scan of a journal found: its extent and every problem, by position.
public struct IntegrityReport: Sendable, Hashable {
    /// One thing wrong with the journal.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The position of the record concerned, if one is.
        public let position: UInt64?
        /// A plain explanation.
        public let message: String

        public var description: String {
            if let position { return "position \(position): \(message)" }
            return message
        }
    }

    /// The number of records scanned.
    public var eventCount: UInt64 = 0
    /// The number of distinct streams.
    public var streamCount = 0
    /// The last position found.
    public var head: UInt64 = 0
    /// The checksum of the last record: a digest of the whole chain.
    public var lastChecksum: UInt32 = RecordCodec.genesisChecksum
    /// Every problem found, in position order (at most ``maximumProblems``).
    public var problems: [Problem] = []

    /// Whether the scan found nothing wrong.
    public var isClean: Bool { problems.isEmpty }

    /// The most problems a report lists; a journal with more is reported as such.
    public static let maximumProblems = 1000

    mutating func add(_ message: String, at position: UInt64?) {
        if problems.count < Self.maximumProblems {
            problems.append(Problem(position: position, message: message))
        }
    }
}
