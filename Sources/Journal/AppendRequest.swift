/// One append: events for one stream under one expected-version condition.
public struct AppendRequest: Sendable, Hashable {
    /// The stream to append to.
    public var streamID: StreamID
    /// The condition the stream's current version must meet.
    public var expectedVersion: ExpectedVersion
    /// The events, in order; at least one.
    public var events: [ProposedEvent]

    /// The most payload bytes one request may carry in all.
    public static let maximumTotalPayload = 64 << 20

    /// Creates an append request.
    public init(streamID: StreamID, expectedVersion: ExpectedVersion, events: [ProposedEvent]) {
        self.streamID = streamID
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

/// Where an append landed.
public struct AppendResult: Sendable, Hashable {
    /// The global position of the first event appended.
    public let firstPosition: UInt64
    /// The global position of the last event appended.
    public let lastPosition: UInt64
    /// The stream's version after the append (the version to expect next time).
    public let streamVersion: UInt64

    /// Creates an append result.
    public init(firstPosition: UInt64, lastPosition: UInt64, streamVersion: UInt64) {
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.streamVersion = streamVersion
    }
}
