import Foundation
public import Journal
public import Scheduling

/// A change to who may use the API, kept in the journal's reserved stream ``AccessEvent/streamID``
/// so grants and revocations are audited like every other decision.
///
/// Type names and schema versions are storage contracts (catalogue: `docs/events.md`).
public struct AccessEvent: Sendable, Hashable {
    /// The stream that holds every access event. `$` cannot start a task id, so no task's
    /// stream can collide with it.
    public static let streamID: StreamID = "$access"

    /// When it was decided (the journal's recorded-at).
    public var at: Instant
    /// Who decided: a token's name, or `cli` for the offline command.
    public var actor: String
    /// Why, when the actor said.
    public var reason: String?
    /// What happened.
    public var kind: Kind

    public init(at: Instant, actor: String, reason: String? = nil, kind: Kind) {
        self.at = at
        self.actor = actor
        self.reason = reason
        self.kind = kind
    }

    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// `TokenCreated` v1: a token was issued (its hash, never its secret).
        case tokenCreated(AccessToken)
        /// `TokenRevoked` v1: a token stops opening the API.
        case tokenRevoked(id: String)

        /// The stable type name stored in the journal.
        public var typeName: String {
            switch self {
            case .tokenCreated: "TokenCreated"
            case .tokenRevoked: "TokenRevoked"
            }
        }
    }
}

/// Encodes and decodes access events as JSON payloads (few, small, and readable in exports).
public enum AccessEventCodec {
    private struct Created: Codable {
        var token: AccessToken
        var actor: String
        var reason: String?
    }

    private struct Revoked: Codable {
        var id: String
        var actor: String
        var reason: String?
    }

    /// The journal form of `event`.
    public static func encode(_ event: AccessEvent) -> ProposedEvent {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload: Data
        switch event.kind {
        case .tokenCreated(let token):
            payload = (try? encoder.encode(Created(token: token, actor: event.actor, reason: event.reason))) ?? Data()
        case .tokenRevoked(let id):
            payload = (try? encoder.encode(Revoked(id: id, actor: event.actor, reason: event.reason))) ?? Data()
        }
        return ProposedEvent(
            type: event.kind.typeName, schemaVersion: 1, recordedAt: event.at.microsecondsSinceEpoch, payload: Array(payload)
        )
    }

    /// The event a record of the access stream holds.
    public static func decode(_ recorded: RecordedEvent) throws -> AccessEvent {
        let at = Instant(microsecondsSinceEpoch: recorded.recordedAt)
        let decoder = JSONDecoder()
        guard recorded.schemaVersion == 1 else {
            throw AccessError(field: "schemaVersion", message: "\(recorded.type) v\(recorded.schemaVersion) is not known to this version")
        }
        switch recorded.type {
        case "TokenCreated":
            let created = try decoder.decode(Created.self, from: Data(recorded.payload))
            return AccessEvent(at: at, actor: created.actor, reason: created.reason, kind: .tokenCreated(created.token))
        case "TokenRevoked":
            let revoked = try decoder.decode(Revoked.self, from: Data(recorded.payload))
            return AccessEvent(at: at, actor: revoked.actor, reason: revoked.reason, kind: .tokenRevoked(id: revoked.id))
        default:
            throw AccessError(field: "type", message: "\(recorded.type) is not an access event")
        }
    }
}

/// A request about tokens that the rules refuse; `field` names what is wrong.
public struct AccessError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalid, notFound = "not-found", conflict
    }

    public let code: Code
    public let field: String
    public let message: String

    public init(_ code: Code = .invalid, field: String, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
