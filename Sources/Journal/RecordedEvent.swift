/// An event as the journal holds it: the envelope around an opaque payload.
public struct RecordedEvent: Sendable, Hashable {
    /// The global position: 1 for the first event, contiguous and in commit order.
    public let position: UInt64
    /// The stream the event belongs to.
    public let streamID: StreamID
    /// The event's version within its stream: 1 for the first, contiguous.
    public let streamVersion: UInt64
    /// The event's stable type name.
    public let type: String
    /// The version of the payload's schema.
    public let schemaVersion: UInt16
    /// When the event was decided, in microseconds since the Unix epoch (UTC).
    public let recordedAt: Int64
    /// The encoded payload.
    public let payload: [UInt8]
    /// The record's CRC32C, chained over the previous record's checksum (see docs/journal-format.md).
    public let checksum: UInt32

    /// Creates a recorded event; journals and codecs call this.
    public init(
        position: UInt64,
        streamID: StreamID,
        streamVersion: UInt64,
        type: String,
        schemaVersion: UInt16,
        recordedAt: Int64,
        payload: [UInt8],
        checksum: UInt32
    ) {
        self.position = position
        self.streamID = streamID
        self.streamVersion = streamVersion
        self.type = type
        self.schemaVersion = schemaVersion
        self.recordedAt = recordedAt
        self.payload = payload
        self.checksum = checksum
    }
}
