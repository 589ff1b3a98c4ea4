/// Checks a journal read event by event through the ``Journal`` protocol (any backend):
/// contiguous positions, contiguous stream versions, and the chained checksums recomputed
/// from each event's fields — so an altered, moved or removed event is found wherever the
/// journal is kept.
public struct ChainVerifier: Sendable {
    /// What the events checked so far showed.
    public private(set) var report = IntegrityReport()
    private var versions: [StreamID: UInt64] = [:]
    private var scratch: [UInt8] = []

    public init() {}

    /// Checks the next event (events must come in position order, from position 1).
    public mutating func check(_ event: RecordedEvent) {
        if event.position != report.head + 1 {
            report.add("records \(report.head + 1) to \(event.position - 1) are missing: positions must be contiguous", at: event.position)
        }
        let expected = (versions[event.streamID] ?? 0) + 1
        if event.streamVersion != expected {
            report.add("stream \(event.streamID) jumps to version \(event.streamVersion) where \(expected) was due", at: event.position)
        }
        versions[event.streamID] = event.streamVersion
        scratch.removeAll(keepingCapacity: true)
        let checksum = RecordCodec.encode(
            position: event.position, streamID: event.streamID, streamVersion: event.streamVersion,
            event: ProposedEvent(type: event.type, schemaVersion: event.schemaVersion, recordedAt: event.recordedAt, payload: event.payload),
            previousChecksum: report.lastChecksum, appendingTo: &scratch
        )
        if checksum != event.checksum {
            report.add("checksum mismatch: the record was altered, moved, or a record before it was removed", at: event.position)
        }
        // The chain goes on from the stored checksum, so one bad record is reported once.
        report.lastChecksum = event.checksum
        report.head = event.position
        report.eventCount += 1
        report.streamCount = versions.count
    }
}
