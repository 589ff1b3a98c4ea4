/// An append-only, totally ordered log of events grouped into streams.
///
/// Implementations (in-memory, LMDB, later PostgreSQL) pass one contract suite: positions
/// are contiguous from 1 in commit order, stream versions are contiguous from 1, an append
/// is all-or-nothing and is acknowledged only once durable, and an append whose expected
/// version does not hold fails alone.
public protocol Journal: Sendable {
    /// Appends each request atomically and independently, in one commit where possible.
    ///
    /// Results come back in request order; a failing request does not fail the others.
    func append(_ requests: [AppendRequest]) async -> [Result<AppendResult, JournalError>]

    /// Up to `limit` events with positions greater than `position`, in position order.
    func read(after position: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent]

    /// Up to `limit` events of `stream` with versions greater than `version`, in order.
    func read(stream: StreamID, after version: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent]

    /// The stream's current version: 0 when it has no events.
    func version(of stream: StreamID) async throws(JournalError) -> UInt64

    /// The position of the last committed event: 0 when the journal is empty.
    func head() async throws(JournalError) -> UInt64

    /// Returns once the head is beyond `position`; throws when the journal closes or the
    /// waiting task is cancelled.
    func waitForEvents(after position: UInt64) async throws
}

extension Journal {
    /// Appends `events` to `stream` atomically if its version meets `expectedVersion`.
    public func append(
        _ events: [ProposedEvent],
        to stream: StreamID,
        expectedVersion: ExpectedVersion
    ) async throws(JournalError) -> AppendResult {
        let results = await append([AppendRequest(streamID: stream, expectedVersion: expectedVersion, events: events)])
        return try results[0].get()
    }

    /// Every event after `position`, now and as it is committed: never skipping or
    /// repeating one. Ends when the journal closes or the iterating task is cancelled.
    public func subscribe(after position: UInt64, batchSize: Int = 512) -> JournalSubscription {
        JournalSubscription(journal: self, position: position, batchSize: batchSize)
    }
}

extension AppendRequest {
    /// Checks the parts of a request that do not depend on the journal's state.
    public func validate() throws(JournalError) {
        let streamBytes = streamID.rawValue.utf8.count
        guard (1...StreamID.maximumLength).contains(streamBytes) else {
            throw .invalidAppend(
                "a stream id must be 1 to \(StreamID.maximumLength) UTF-8 bytes, not \(streamBytes)",
                stream: streamID
            )
        }
        guard !events.isEmpty else {
            throw .invalidAppend("an append needs at least one event", stream: streamID)
        }
        var total = 0
        for event in events {
            let typeBytes = event.type.utf8.count
            guard (1...ProposedEvent.maximumTypeLength).contains(typeBytes) else {
                throw .invalidAppend(
                    "an event type must be 1 to \(ProposedEvent.maximumTypeLength) UTF-8 bytes, not \(typeBytes)",
                    stream: streamID
                )
            }
            guard event.payload.count <= ProposedEvent.maximumPayloadSize else {
                throw .invalidAppend(
                    "a payload may be at most \(ProposedEvent.maximumPayloadSize) bytes, not \(event.payload.count)",
                    stream: streamID
                )
            }
            total += event.payload.count
        }
        guard total <= AppendRequest.maximumTotalPayload else {
            throw .invalidAppend(
                "one append may carry at most \(AppendRequest.maximumTotalPayload) payload bytes, not \(total)",
                stream: streamID
            )
        }
    }
}
