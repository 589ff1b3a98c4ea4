/// Every event after a position, read in batches and then awaited as they are committed.
///
/// Reads go by position, and positions are contiguous, so the sequence never skips or
/// repeats an event however appends and reads interleave.
public struct JournalSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent

    let journal: any Journal
    let position: UInt64
    let batchSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(journal: journal, position: position, batchSize: batchSize)
    }

    /// Iterates a subscription.
    public struct Iterator: AsyncIteratorProtocol {
        let journal: any Journal
        /// The position of the last event handed out.
        var position: UInt64
        let batchSize: Int
        var buffer: [RecordedEvent] = []
        var index = 0

        public mutating func next() async throws -> RecordedEvent? {
            while index == buffer.count {
                if Task.isCancelled { return nil }
                do {
                    buffer = try await journal.read(after: position, limit: batchSize)
                } catch {
                    // A read cut short by the iterating task's cancellation ends the sequence too.
                    if error.code == .closed || Task.isCancelled { return nil }
                    throw error
                }
                index = 0
                if buffer.isEmpty {
                    do {
                        try await journal.waitForEvents(after: position)
                    } catch is CancellationError {
                        return nil
                    } catch {
                        if Task.isCancelled || (error as? JournalError)?.code == .closed { return nil }
                        throw error
                    }
                }
            }
            let event = buffer[index]
            index += 1
            position = event.position
            return event
        }
    }
}
