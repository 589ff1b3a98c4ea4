import Crypto
public import Scheduling

/// An API token as the journal keeps it: everything but the secret, of which only a SHA-256
/// hash is stored.
public struct AccessToken: Sendable, Hashable, Codable {
    /// The public part of the token, also in the token's text (`alm_<id>_<secret>`).
    public var id: String
    /// The token's name: the actor recorded on every command made with it.
    public var name: String
    /// What it may do.
    public var role: Role
    /// The only namespace it sees and changes; nil for every namespace.
    public var namespace: String?
    /// Lowercase hex SHA-256 of the token's full text.
    public var hash: String
    /// When it was created.
    public var createdAt: Instant
    /// Who created it.
    public var createdBy: String
    /// When it was revoked, if it was.
    public var revokedAt: Instant?

    /// Creates a token record.
    public init(id: String, name: String, role: Role, namespace: String?, hash: String, createdAt: Instant, createdBy: String, revokedAt: Instant? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.namespace = namespace
        self.hash = hash
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
    }

    /// Whether the token still opens the API.
    public var isActive: Bool { revokedAt == nil }

    /// Whether the token may see a task in `namespace`.
    public func sees(_ namespace: String) -> Bool { self.namespace.map { $0 == namespace } ?? true }
}

/// A token's text: `alm_` + a 16-character id + `_` + a 43-character secret (32 random bytes,
/// base64url). Shown once, when created.
public enum TokenText {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let idAlphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// A fresh token (id and full text) drawn from `generator`.
    public static func generate(using generator: inout some RandomNumberGenerator) -> (id: String, text: String) {
        let id = String(decoding: (0..<16).map { _ in idAlphabet[Int(generator.next(upperBound: UInt64(idAlphabet.count)))] }, as: UTF8.self)
        let secret = String(decoding: (0..<43).map { _ in alphabet[Int(generator.next(upperBound: 64 as UInt64))] }, as: UTF8.self)
        return (id, "alm_\(id)_\(secret)")
    }

    /// The id inside a token's text, or nil when the text is not shaped like a token.
    public static func id(of text: String) -> String? {
        let parts = text.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "alm", parts[1].utf8.count == 16, parts[2].utf8.count == 43 else { return nil }
        return String(parts[1])
    }

    /// Lowercase hex SHA-256 of `text`.
    public static func hash(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
