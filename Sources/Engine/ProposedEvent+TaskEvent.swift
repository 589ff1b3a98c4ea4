public import Journal
public import Scheduling

extension ProposedEvent {
    /// The journal form of a domain event: its codec's type, schema version and payload,
    /// recorded at the instant it was decided.
    public init(_ event: TaskEvent) {
        let encoded = EventCodec.encode(event)
        self.init(
            type: encoded.type,
            schemaVersion: encoded.schemaVersion,
            recordedAt: event.at.microsecondsSinceEpoch,
            payload: encoded.payload
        )
    }
}

extension AppendRequest {
    /// An append of `events` of a task whose state the decision was made on (nil: new task).
    public init(_ events: [TaskEvent], decidedOn state: TaskState?, task: TaskID) {
        self.init(
            streamID: StreamID(task.rawValue),
            expectedVersion: state.map { .exactly($0.version) } ?? .noStream,
            events: events.map(ProposedEvent.init)
        )
    }
}
