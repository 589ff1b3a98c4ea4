public import Access
public import Journal
import Scheduling

/// The write path for tokens: decides on the store's access state, appends to the access
/// stream with its version as the expected version (deciding again after losing a race), and
/// returns once the event is durable and applied.
public struct AccessService: Sendable {
    let journal: any Journal
    let store: ProjectionStore
    let clock: any WallClock
    let queue = TaskQueue()
    private static let queueKey: TaskID = "$access"

    public init(journal: any Journal, store: ProjectionStore, clock: any WallClock) {
        self.journal = journal
        self.store = store
        self.clock = clock
    }

    /// Issues a token; returns its record and its text, which is never stored or shown again.
    public func create(
        name: String, role: Role, namespace: String?, actor: String, reason: String? = nil
    ) async throws -> (token: AccessToken, text: String) {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        let event = try await decideAndAppend { state, now in
            let decided = try state.create(
                name: name, role: role, namespace: namespace, actor: actor, reason: reason, now: now, using: &generator
            )
            text = decided.text
            return decided.event
        }
        guard case .tokenCreated(let token) = event.kind else { preconditionFailure("create decided \(event.kind.typeName)") }
        return (token, text)
    }

    /// Revokes the token with id or name `reference`.
    @discardableResult
    public func revoke(_ reference: String, actor: String, reason: String? = nil) async throws -> AccessToken {
        let event = try await decideAndAppend { state, now in try state.revoke(reference, actor: actor, reason: reason, now: now) }
        guard case .tokenRevoked(let id) = event.kind, let token = await store.access.tokens[id] else {
            preconditionFailure("revoke decided \(event.kind.typeName)")
        }
        return token
    }

    private func decideAndAppend(_ decide: (AccessState, Instant) throws -> AccessEvent) async throws -> AccessEvent {
        try await queue.exclusively(Self.queueKey) {
            for _ in 0..<8 {
                let state = await store.access
                let event = try decide(state, clock.now())
                let request = AppendRequest(
                    streamID: AccessEvent.streamID,
                    expectedVersion: state.version == 0 ? .noStream : .exactly(state.version),
                    events: [AccessEventCodec.encode(event)]
                )
                switch await journal.append([request])[0] {
                case .success(let result):
                    try await store.catchUp(through: result.lastPosition)
                    return event
                case .failure(let error) where error.code == .wrongExpectedVersion:
                    try await store.catchUp()
                case .failure(let error):
                    throw error
                }
            }
            throw JournalError(code: .wrongExpectedVersion, message: "tokens kept changing; try again", streamID: AccessEvent.streamID)
        }
    }
}
