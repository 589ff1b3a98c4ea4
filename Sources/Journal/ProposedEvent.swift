/// An event on its way into the journal: what it is, when it was decided, and its bytes.
///
/// The journal treats the payload as opaque; the domain owns the codec.
public struct ProposedEvent: Sendable, Hashable {
    /// The event's stable type name (a storage contract: never renamed or reused).
    public var type: String
    /// The version of the payload's schema for this type.
    public var schemaVersion: UInt16
    /// When the event was decided, in microseconds since the Unix epoch (UTC).
    public var recordedAt: Int64
    /// The encoded payload.
    public var payload: [UInt8]

    /// Creates a proposed event.
    public init(type: String, schemaVersion: UInt16 = 1, recordedAt: Int64, payload: [UInt8]) {
        self.type = type
        self.schemaVersion = schemaVersion
        self.recordedAt = recordedAt
        self.payload = payload
    }

    /// The longest event type name, in UTF-8 bytes.
    public static let maximumTypeLength = 255
    /// The largest payload, in bytes.
    public static let maximumPayloadSize = 16 << 20
}
