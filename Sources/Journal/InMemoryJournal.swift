import Synchronization

/// A journal held in memory: for tests and for tools that build a journal to inspect it.
///
/// It keeps the same positions, versions and chained checksums as ``LMDBJournal``, so the
/// two pass one contract suite.
public final class InMemoryJournal: Journal, SnapshotStore {
    private struct State {
        var events: [RecordedEvent] = []
        var streams: [StreamID: [UInt64]] = [:]
        var lastChecksum = RecordCodec.genesisChecksum
        var scratch: [UInt8] = []
        var snapshots: [UInt64: StoredSnapshot] = [:]
    }

    private let state = Mutex(State())
    private let notifier = PositionNotifier(head: 0)

    /// Creates an empty journal.
    public init() {}

    public func append(_ requests: [AppendRequest]) async -> [Result<AppendResult, JournalError>] {
        let (results, head) = state.withLock { state in
            let results = requests.map { request in
                Result { () throws(JournalError) -> AppendResult in try Self.append(request, to: &state) }
            }
            return (results, UInt64(state.events.count))
        }
        notifier.advance(to: head)
        return results
    }

    private static func append(_ request: AppendRequest, to state: inout State) throws(JournalError) -> AppendResult {
        try request.validate()
        let current = UInt64(state.streams[request.streamID]?.count ?? 0)
        guard request.expectedVersion.isSatisfied(byCurrentVersion: current) else {
            throw .wrongExpectedVersion(request.streamID, expected: request.expectedVersion, actual: current)
        }
        let first = UInt64(state.events.count) + 1
        var version = current
        for event in request.events {
            version += 1
            let position = UInt64(state.events.count) + 1
            state.scratch.removeAll(keepingCapacity: true)
            let checksum = RecordCodec.encode(
                position: position,
                streamID: request.streamID,
                streamVersion: version,
                event: event,
                previousChecksum: state.lastChecksum,
                appendingTo: &state.scratch
            )
            state.lastChecksum = checksum
            state.events.append(
                RecordedEvent(
                    position: position,
                    streamID: request.streamID,
                    streamVersion: version,
                    type: event.type,
                    schemaVersion: event.schemaVersion,
                    recordedAt: event.recordedAt,
                    payload: event.payload,
                    checksum: checksum
                )
            )
            state.streams[request.streamID, default: []].append(position)
        }
        return AppendResult(firstPosition: first, lastPosition: UInt64(state.events.count), streamVersion: version)
    }

    public func read(after position: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        state.withLock { state in
            let start = Int(min(position, UInt64(state.events.count)))
            let end = min(state.events.count, start + max(limit, 0))
            return Array(state.events[start..<end])
        }
    }

    public func read(stream: StreamID, after version: UInt64, limit: Int) async throws(JournalError) -> [RecordedEvent] {
        state.withLock { state in
            guard let positions = state.streams[stream] else { return [] }
            let start = Int(min(version, UInt64(positions.count)))
            let end = min(positions.count, start + max(limit, 0))
            return positions[start..<end].map { state.events[Int($0) - 1] }
        }
    }

    public func version(of stream: StreamID) async throws(JournalError) -> UInt64 {
        state.withLock { UInt64($0.streams[stream]?.count ?? 0) }
    }

    public func head() async throws(JournalError) -> UInt64 {
        state.withLock { UInt64($0.events.count) }
    }

    public func waitForEvents(after position: UInt64) async throws {
        try await notifier.wait(after: position)
    }

    public func saveSnapshot(_ snapshot: StoredSnapshot) async throws(JournalError) {
        state.withLock { state in
            state.snapshots[snapshot.position] = snapshot
            for position in state.snapshots.keys.sorted().dropLast(retainedSnapshots) {
                state.snapshots[position] = nil
            }
        }
    }

    public func latestSnapshot(atOrBefore position: UInt64) async throws(JournalError) -> StoredSnapshot? {
        state.withLock { state in
            state.snapshots.keys.filter { $0 <= position }.max().flatMap { state.snapshots[$0] }
        }
    }

    /// Ends every subscription; the journal's contents stay readable.
    public func close() {
        notifier.close()
    }
}
