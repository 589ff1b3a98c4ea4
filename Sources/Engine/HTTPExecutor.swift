import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Scheduling
import Synchronization

/// Performs attempts as HTTP calls through one owned AsyncHTTPClient.
///
/// Redirects are not followed (a redirect is a failure, as Standard Webhooks says, and
/// following one is an SSRF route). Each call has the task's timeout as its deadline; the
/// response is read up to a bound and its first 4 KiB kept as the run's excerpt. Only a 2xx
/// status is success. Every call carries the occurrence id as `Idempotency-Key` — the same
/// for every attempt and after a crash — so receivers can make delivery effectively once.
/// With a ``WebhookSigner`` each call is signed (Standard Webhooks: `webhook-id` is the
/// occurrence id, `webhook-timestamp` the attempt's second, `webhook-signature` the HMAC); a
/// task with its own signing secret is signed with that one instead.
///
/// Secret header values and signing secrets are opened with the ``SecretBox`` just before the
/// call and never leave it: a secret the receiver echoes back is masked in the run's excerpt.
public final class HTTPExecutor: RunExecutor {
    /// Executor settings.
    public struct Configuration: Sendable {
        /// How long connecting may take.
        public var connectTimeout: Duration
        /// How many response bytes are read at most; the rest is not read.
        public var maxResponseBytes: Int
        /// How many leading response bytes are kept as the run's excerpt.
        public var excerptBytes: Int
        /// How many connections to one host are kept open at once (more are opened under
        /// load, and closed when idle).
        public var connectionsPerHost: Int
        /// Signs every call (Standard Webhooks headers) when set.
        public var signer: WebhookSigner?
        /// The addresses calls may reach, checked after resolution at every call; nil: any.
        public var addressPolicy: AddressPolicy?
        /// Opens tasks' sealed secrets; without it, a task with secrets fails its calls.
        public var secrets: SecretBox?

        /// Creates settings; the defaults suit a server.
        public init(
            connectTimeout: Duration = .seconds(5), maxResponseBytes: Int = 64 * 1024, excerptBytes: Int = 4096,
            connectionsPerHost: Int = 64, signer: WebhookSigner? = nil, addressPolicy: AddressPolicy? = AddressPolicy(),
            secrets: SecretBox? = nil
        ) {
            self.secrets = secrets
            self.addressPolicy = addressPolicy
            self.connectTimeout = connectTimeout
            self.maxResponseBytes = maxResponseBytes
            self.excerptBytes = excerptBytes
            self.connectionsPerHost = connectionsPerHost
            self.signer = signer
        }
    }

    private let client: HTTPClient
    private let clock: any WallClock
    private let configuration: Configuration
    private let clientConfiguration: HTTPClient.Configuration
    /// Clients that connect a host name to the address checked for it (HTTPS by name: the
    /// certificate is still checked against the name), by "name address".
    private let pinnedClients = Mutex<[String: HTTPClient]>([:])
    private static let maximumPinnedClients = 64

    /// Creates an executor with its own HTTP client; call ``shutdown()`` when done.
    public init(clock: any WallClock, configuration: Configuration = Configuration()) {
        self.clock = clock
        self.configuration = configuration
        let connect = TimeAmount.microseconds(configuration.connectTimeout.wholeMicroseconds)
        var clientConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: connect)
        )
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, configuration.connectionsPerHost)
        // A refused or failed connection fails the attempt at once, with its reason; the task's
        // retry policy (backoff, same idempotency key) decides what happens next, rather than
        // the client retrying silently until the connect timeout.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        self.clientConfiguration = clientConfiguration
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    /// Closes the clients' connections.
    public func shutdown() async throws {
        try await client.shutdown()
        for pinned in pinnedClients.withLock({ clients in defer { clients = [:] }; return Array(clients.values) }) {
            try? await pinned.shutdown()
        }
    }

    public func execute(_ request: RunRequest) async -> RunResult {
        let started = clock.now()
        var http: HTTPClientRequest
        let mask: SecretMask
        do {
            let secrets: [String]
            (http, secrets) = try makeRequest(request)
            mask = SecretMask(secrets)
        } catch {
            return .failed(RunOutcome(duration: clock.now() - started, error: error.message))
        }
        let timeout = TimeAmount.microseconds(max(1, request.action.timeout.wholeMicroseconds))
        var client = self.client
        if let policy = configuration.addressPolicy {
            switch await pin(&http, policy: policy) {
            case .success(let pinned): client = pinned ?? client
            case .failure(let refusal):
                return .failed(RunOutcome(duration: clock.now() - started, error: refusal.message))
            }
        }
        do {
            let response = try await client.execute(http, timeout: timeout)
            var excerpt: [UInt8] = []
            var read = 0
            // Read a secret's length past the excerpt, so one cut by the excerpt's end is masked too.
            let kept = configuration.excerptBytes + mask.longestBytes
            for try await chunk in response.body {
                let bytes = chunk.readableBytesView
                if excerpt.count < kept {
                    excerpt.append(contentsOf: bytes.prefix(kept - excerpt.count))
                }
                read += bytes.count
                if read >= configuration.maxResponseBytes { break }
            }
            let status = Int(response.status.code)
            let outcome = RunOutcome(
                statusCode: status,
                duration: clock.now() - started,
                responseExcerpt: Self.excerpt(excerpt, masking: mask, limit: configuration.excerptBytes),
                error: (200..<300).contains(status) ? nil : "HTTP \(status) \(response.status.reasonPhrase)"
            )
            return (200..<300).contains(status) ? .succeeded(outcome) : .failed(outcome)
        } catch {
            return .failed(RunOutcome(duration: clock.now() - started, error: mask.apply(Self.describe(error, timeout: request.action.timeout))))
        }
    }

    /// Applies the address policy: resolves the host, refuses the call if any of its addresses
    /// is refused, and makes the call connect to the address checked — an `http` URL is
    /// rewritten to it (with the name in `Host`), an `https` one goes through a client pinned
    /// to it. Returns the client to use (nil: the shared one).
    private func pin(_ http: inout HTTPClientRequest, policy: AddressPolicy) async -> Result<HTTPClient?, ResolutionError> {
        let host: String
        let addresses: [[UInt8]]
        switch await policy.judge(url: http.url) {
        case .literal: return .success(nil)
        case .refused(let reason), .unresolved(let reason): return .failure(ResolutionError(message: reason))
        case .resolved(let name, let resolved): (host, addresses) = (name, resolved)
        }
        guard var components = URLComponents(string: http.url) else { return .failure(ResolutionError(message: "the URL cannot be read")) }
        let address = addresses.first { $0.count == 4 } ?? addresses[0]
        let literal = CIDR.format(address)
        if components.scheme?.lowercased() == "http" {
            let authority = components.port.map { "\(host):\($0)" } ?? host
            components.host = address.count == 16 ? "[\(literal)]" : literal
            guard let url = components.string else { return .failure(ResolutionError(message: "cannot address \(literal)")) }
            http.url = url
            http.headers.replaceOrAdd(name: "Host", value: authority)
            return .success(nil)
        }
        let key = "\(host) \(literal)"
        let (pinned, evicted): (HTTPClient, HTTPClient?) = pinnedClients.withLock { clients in
            if let existing = clients[key] { return (existing, nil) }
            var evicted: HTTPClient?
            if clients.count >= Self.maximumPinnedClients, let victim = clients.keys.first { evicted = clients.removeValue(forKey: victim) }
            var configuration = clientConfiguration
            configuration.dnsOverride = [host: literal]
            let created = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[key] = created
            return (created, evicted)
        }
        if let evicted {
            // Calls still running on it keep it until their own deadline has passed.
            let clock = self.clock
            Task { try? await clock.sleep(until: clock.now() + .seconds(600)); try? await evicted.shutdown() }
        }
        return .success(pinned)
    }

    /// The HTTP request for an attempt: the task's headers (secrets opened), then Almanac's
    /// own (which win), and the body with its placeholders filled in; with the secrets opened,
    /// to be masked in what is kept of the response. Throws when a secret does not open.
    func makeRequest(_ request: RunRequest) throws(SecretError) -> (HTTPClientRequest, secrets: [String]) {
        var http = HTTPClientRequest(url: request.action.url)
        http.method = HTTPMethod(rawValue: request.action.method.uppercased())
        var secrets: [String] = []
        for header in request.action.headers {
            switch header.value {
            case .plain(let value):
                http.headers.add(name: header.name, value: value)
            case .sealed(let sealed):
                let value = try open(sealed, request: request, field: WebhookAction.sealingField(header: header.name))
                secrets.append(value)
                http.headers.add(name: header.name, value: value)
            }
        }
        let start = request.start
        let own: [(String, String)] = [
            ("Idempotency-Key", start.occurrence.rawValue),
            ("Almanac-Task-Id", request.taskID.rawValue),
            ("Almanac-Run-Id", start.run.rawValue),
            ("Almanac-Scheduled-At", start.scheduledAt.description),
            ("Almanac-Attempt", String(start.attempt)),
            ("User-Agent", "Almanac"),
        ]
        for (name, value) in own { http.headers.replaceOrAdd(name: name, value: value) }
        let body = request.action.body.map { Array(Self.fill($0, for: request).utf8) }
        if let body { http.body = .bytes(ByteBuffer(bytes: body)) }
        var signer = configuration.signer
        if let sealed = request.action.signingSecret {
            let secret = try open(sealed, request: request, field: WebhookAction.signingSecretField)
            do { signer = try WebhookSigner(secret: secret) } catch {
                throw SecretError("the task's signing secret is not usable: \(error)")
            }
        }
        if let signer {
            // The message id is the occurrence's, the same for every attempt (as the
            // specification asks); each attempt is signed afresh at its own instant.
            let id = start.occurrence.rawValue
            let timestamp = clock.now().secondsSinceEpoch
            http.headers.replaceOrAdd(name: "webhook-id", value: id)
            http.headers.replaceOrAdd(name: "webhook-timestamp", value: String(timestamp))
            http.headers.replaceOrAdd(name: "webhook-signature", value: signer.signature(id: id, timestamp: timestamp, body: body ?? []))
        }
        return (http, secrets)
    }

    private func open(_ sealed: SealedSecret, request: RunRequest, field: String) throws(SecretError) -> String {
        guard let box = configuration.secrets else {
            throw SecretError("the task holds secrets and this executor has no secrets key to open them")
        }
        return try box.open(sealed, task: request.taskID, field: field)
    }

    /// The first `limit` bytes of the response, with the task's secrets masked (``SecretMask``):
    /// a receiver that echoes its request does not put a secret in the run log.
    static func excerpt(_ bytes: [UInt8], masking mask: SecretMask, limit: Int) -> String {
        guard !mask.isEmpty else { return String(decoding: bytes.prefix(limit), as: UTF8.self) }
        let text = mask.apply(String(decoding: bytes, as: UTF8.self))
        return String(decoding: Array(text.utf8.prefix(limit)), as: UTF8.self)
    }

    /// The body with `{{taskId}}`, `{{runId}}`, `{{occurrenceId}}`, `{{scheduledAt}}`,
    /// `{{firedAt}}` and `{{attempt}}` replaced.
    static func fill(_ template: String, for request: RunRequest) -> String {
        guard template.contains("{{") else { return template }
        let values: [(String, String)] = [
            ("{{taskId}}", request.taskID.rawValue),
            ("{{runId}}", request.start.run.rawValue),
            ("{{occurrenceId}}", request.start.occurrence.rawValue),
            ("{{scheduledAt}}", request.start.scheduledAt.description),
            ("{{firedAt}}", request.firedAt.description),
            ("{{attempt}}", String(request.start.attempt)),
        ]
        var result = template
        for (placeholder, value) in values { result = result.replacingAll(placeholder, with: value) }
        return result
    }

    /// A failure's reason, in words an operator can act on.
    static func describe(_ error: any Error, timeout: Duration) -> String {
        if let error = error as? HTTPClientError {
            if [.deadlineExceeded, .readTimeout, .writeTimeout].contains(error) { return "timed out after \(timeout)" }
            if error == .connectTimeout { return "connection timed out" }
            if error == .remoteConnectionClosed { return "the receiver closed the connection" }
            // These carry the offending names or values, which may be secrets: never recorded.
            if "\(error)".hasPrefix("HTTPClientError.invalidHeaderField") {
                return "a header of the task cannot be sent: its name or value has characters HTTP does not allow"
            }
            return "HTTP client error: \(error)"
        }
        return "connection failed: \(error)"
    }
}

extension String {
    /// Every occurrence of `target` replaced by `replacement`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
