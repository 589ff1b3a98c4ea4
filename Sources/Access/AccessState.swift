public import Journal
public import Scheduling

/// Every token ever issued, folded from the access stream; decides token commands.
public struct AccessState: Sendable, Hashable {
    /// Tokens by id, revoked ones included.
    public private(set) var tokens: [String: AccessToken] = [:]
    /// The access stream's version (the expected version of the next append).
    public private(set) var version: UInt64 = 0

    public init() {}

    /// Whether the API asks for a token: once any token was issued it always does, so revoking
    /// the last token never opens the API again.
    public var hasTokens: Bool { !tokens.isEmpty }

    /// Tokens in the order they were created.
    public var ordered: [AccessToken] {
        tokens.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Folds in one event of the access stream, recorded as `streamVersion`.
    public mutating func apply(_ event: AccessEvent, streamVersion: UInt64) {
        switch event.kind {
        case .tokenCreated(let token):
            tokens[token.id] = token
        case .tokenRevoked(let id):
            tokens[id]?.revokedAt = event.at
        }
        version = streamVersion
    }

    /// The active token whose text is `text`, if any. Compares hashes in constant time.
    public func authenticate(_ text: String) -> AccessToken? {
        guard let id = TokenText.id(of: text), let token = tokens[id], token.isActive else { return nil }
        let presented = Array(TokenText.hash(text).utf8)
        let stored = Array(token.hash.utf8)
        guard presented.count == stored.count else { return nil }
        var difference: UInt8 = 0
        for (a, b) in zip(presented, stored) { difference |= a ^ b }
        return difference == 0 ? token : nil
    }

    /// The token named by `reference`: its full text, its id, or the name of an active token.
    public func token(_ reference: String) -> AccessToken? {
        if let id = TokenText.id(of: reference) { return tokens[id] }
        return tokens[reference] ?? tokens.values.first { $0.name == reference && $0.isActive }
    }

    /// Names that are the actors of Almanac's own decisions, or that could be taken for a
    /// token's id or text.
    public static func isReservedName(_ name: String) -> Bool {
        if ["scheduler", "api", "cli", "web-ui"].contains(name) || name.hasPrefix("alm_") { return true }
        return name.utf8.count == 16 && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) }
    }

    // MARK: - Decisions

    /// Issues a token: the event to append and the token's text (shown once).
    ///
    /// Names are 1–64 printable ASCII characters and unique among active tokens (the name is
    /// the actor in the journal); `scheduler` is the engine's own. A token limited to a
    /// namespace is named `<name>@<namespace>` (the suffix is added when not given), so names
    /// collide only within a namespace: a tenant choosing a name learns nothing of another's.
    /// A token of every namespace has no `@` in its name.
    public func create(
        name given: String, role: Role, namespace: String?, actor: String, reason: String? = nil, now: Instant,
        using generator: inout some RandomNumberGenerator
    ) throws(AccessError) -> (event: AccessEvent, text: String) {
        if let namespace, !Namespace.isValid(namespace) {
            throw AccessError(field: "namespace", message: "must be 1 to 63 lowercase letters, digits or '-', not starting with '-'")
        }
        guard (1...64).contains(given.utf8.count), given.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw AccessError(field: "name", message: "must be 1 to 64 printable ASCII characters without spaces")
        }
        let name: String
        if let namespace {
            let suffix = "@" + namespace
            let base = given.hasSuffix(suffix) ? String(given.dropLast(suffix.count)) : given
            guard !base.isEmpty, !base.contains("@") else {
                throw AccessError(field: "name", message: "must not contain '@' (a token of namespace \(namespace) is named <name>\(suffix))")
            }
            name = base + suffix
        } else {
            guard !given.contains("@") else {
                throw AccessError(field: "name", message: "must not contain '@': name@namespace names a token limited to that namespace")
            }
            name = given
        }
        guard !Self.isReservedName(given) else {
            throw AccessError(field: "name", message: "is reserved: scheduler, api, cli and web-ui name Almanac's own actors, and a name must not look like a token's id (16 lowercase letters and digits) or text (alm_…)")
        }
        if tokens.values.contains(where: { $0.name == name && $0.isActive }) {
            throw AccessError(.conflict, field: "name", message: "an active token is already named \"\(name)\"; revoke it or choose another name")
        }
        var drawn = TokenText.generate(using: &generator)
        while tokens[drawn.id] != nil { drawn = TokenText.generate(using: &generator) }
        let token = AccessToken(
            id: drawn.id, name: name, role: role, namespace: namespace, hash: TokenText.hash(drawn.text),
            createdAt: now, createdBy: actor
        )
        return (AccessEvent(at: now, actor: actor, reason: reason, kind: .tokenCreated(token)), drawn.text)
    }

    /// Revokes the token named by `reference` (its text, its id, or an active token's name).
    /// The last active admin token for every namespace is kept unless `allowingLastAdmin`
    /// (offline, where a new one can always be issued): revoking it would lock everyone out.
    public func revoke(
        _ reference: String, actor: String, reason: String? = nil, now: Instant, allowingLastAdmin: Bool = false
    ) throws(AccessError) -> AccessEvent {
        guard let token = token(reference) else {
            // A token's text is never repeated in an answer.
            let shown = TokenText.id(of: reference) != nil ? "the token given" : "\"\(reference)\""
            throw AccessError(.notFound, field: "token", message: "no token has the id or name \(shown)")
        }
        guard token.isActive else {
            throw AccessError(.conflict, field: "token", message: "token \(token.id) (\(token.name)) was already revoked")
        }
        let admins = tokens.values.filter { $0.isActive && $0.role == .admin && $0.namespace == nil }
        if !allowingLastAdmin, admins.map(\.id) == [token.id] {
            throw AccessError(
                .conflict, field: "token",
                message: "token \(token.id) (\(token.name)) is the last active admin token: issue another admin token first, or revoke it offline with almanac tokens revoke --data-dir"
            )
        }
        return AccessEvent(at: now, actor: actor, reason: reason, kind: .tokenRevoked(id: token.id))
    }

    /// The state folded from every record of the access stream.
    public static func folding(_ records: [RecordedEvent]) throws -> AccessState {
        var state = AccessState()
        for record in records { state.apply(try AccessEventCodec.decode(record), streamVersion: record.streamVersion) }
        return state
    }
}
