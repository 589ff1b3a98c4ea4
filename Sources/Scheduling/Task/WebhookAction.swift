/// What a task does at each occurrence: one HTTP request.
///
/// The body may hold the placeholders `{{taskId}}`, `{{runId}}`, `{{occurrenceId}}`,
/// `{{scheduledAt}}`, `{{firedAt}}` and `{{attempt}}`, filled in at each call.
///
/// Secret header values and the task's own signing secret are held sealed
/// (``SealedSecret``): the journal, projections, snapshots and exports carry only the
/// ciphertext, opened by the executor at call time.
public struct WebhookAction: Sendable, Hashable {
    /// The URL called (http or https).
    public var url: String
    /// The HTTP method, upper case.
    public var method: String
    /// Headers sent with every call, in order.
    public var headers: [Header]
    /// The request body, if any.
    public var body: String?
    /// How long a call may take in all before it counts as failed.
    public var timeout: Duration
    /// The task's own webhook signing secret (`whsec_…`, sealed); nil: calls are signed with
    /// the server's secret.
    public var signingSecret: SealedSecret?

    /// One request header.
    public struct Header: Sendable, Hashable {
        /// The header's name.
        public var name: String
        /// The header's value: plain text, or sealed when it is a secret.
        public var value: Value

        /// A header's value.
        public enum Value: Sendable, Hashable {
            /// Shown and stored as given.
            case plain(String)
            /// A secret: stored sealed, never shown.
            case sealed(SealedSecret)
        }

        /// Creates a header with a plain value.
        public init(name: String, value: String) {
            self.name = name
            self.value = .plain(value)
        }

        /// Creates a header with a sealed (secret) value.
        public init(name: String, sealed: SealedSecret) {
            self.name = name
            self.value = .sealed(sealed)
        }

        /// Whether the value is a secret.
        public var isSecret: Bool {
            if case .sealed = value { return true }
            return false
        }

        /// The plain value; nil for a secret.
        public var plainValue: String? {
            if case .plain(let text) = value { return text }
            return nil
        }
    }

    /// Creates an action; the defaults are a POST with a 30-second timeout.
    public init(
        url: String,
        method: String = "POST",
        headers: [Header] = [],
        body: String? = nil,
        timeout: Duration = .seconds(30),
        signingSecret: SealedSecret? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.signingSecret = signingSecret
    }

    /// The field a sealed value belongs to, bound into its seal so a sealed value cannot be
    /// moved to another header or another task: `header:<name, lower case>`.
    public static func sealingField(header name: String) -> String { "header:" + name.lowercased() }
    /// The field the task's signing secret is sealed for.
    public static let signingSecretField = "signingSecret"
}

/// A secret as Almanac stores it: sealed with the server's secrets key (AES-256-GCM), in the
/// text form `sealed:v1:<key id>:<base64 of nonce, ciphertext and tag>`.
///
/// This module neither seals nor opens (it does no cryptography); it carries the text and
/// reads the key id, so a store can say which key a secret needs.
public struct SealedSecret: Sendable, Hashable, CustomStringConvertible {
    /// The stored text.
    public let text: String

    /// Wraps stored text.
    public init(text: String) { self.text = text }

    /// The id of the key that sealed it (16 hex digits), or nil when the text is not one.
    public var keyID: String? {
        let parts = text.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "sealed", parts[1] == "v1" else { return nil }
        return String(parts[2])
    }

    /// Never the secret: a sealed value prints as its key id.
    public var description: String { "sealed(key \(keyID ?? "?"))" }
}
