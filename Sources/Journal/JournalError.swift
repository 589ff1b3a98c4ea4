/// A journal failure, with a code callers can switch on and a message that says what to do.
public struct JournalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A stable name for the code.
        public let rawValue: String
        /// Creates a code.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The stream's version did not meet the append's expected version.
        public static let wrongExpectedVersion = Code("wrongExpectedVersion")
        /// The journal has no room left (LMDB's map is full); grow the map and retry.
        public static let journalFull = Code("journalFull")
        /// The request is malformed (empty, oversized, or an invalid stream id or type).
        public static let invalidAppend = Code("invalidAppend")
        /// The data directory holds a journal of another format version.
        public static let formatMismatch = Code("formatMismatch")
        /// A stored record is damaged or out of place.
        public static let corrupted = Code("corrupted")
        /// The journal was opened read-only.
        public static let readOnly = Code("readOnly")
        /// The journal is closed.
        public static let closed = Code("closed")
        /// Another process (or another open in this one) is writing to the journal.
        public static let locked = Code("locked")
        /// The journal's database cannot be reached (or did not answer in time); an append that
        /// fails so may or may not have been recorded.
        public static let unavailable = Code("unavailable")
        /// The storage engine failed in another way; see ``JournalError/underlying``.
        public static let storage = Code("storage")
    }

    /// What went wrong.
    public let code: Code
    /// A sentence saying what happened and what to do about it.
    public let message: String
    /// The stream concerned, if any.
    public let streamID: StreamID?
    /// The stream's actual version, for ``Code/wrongExpectedVersion``.
    public let actualVersion: UInt64?
    /// The storage engine's own description of the cause, if any.
    public let underlying: String?

    /// Creates a journal error.
    public init(
        code: Code,
        message: String,
        streamID: StreamID? = nil,
        actualVersion: UInt64? = nil,
        underlying: String? = nil
    ) {
        self.code = code
        self.message = message
        self.streamID = streamID
        self.actualVersion = actualVersion
        self.underlying = underlying
    }

    public var description: String {
        var text = "journal \(code): \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }

    /// The error for an append whose expected version did not hold.
    public static func wrongExpectedVersion(
        _ stream: StreamID,
        expected: ExpectedVersion,
        actual: UInt64
    ) -> JournalError {
        JournalError(
            code: .wrongExpectedVersion,
            message: "stream \(stream) is at version \(actual), not \(expected); re-read it and decide again",
            streamID: stream,
            actualVersion: actual
        )
    }

    /// The error for an append that is malformed.
    public static func invalidAppend(_ message: String, stream: StreamID? = nil) -> JournalError {
        JournalError(code: .invalidAppend, message: message, streamID: stream)
    }

    static let closedJournal = JournalError(code: .closed, message: "the journal is closed")
}
