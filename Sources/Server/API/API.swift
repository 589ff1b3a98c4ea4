import Access
public import Engine
import HTTPTypes
import Foundation
public import Hummingbird
public import Journal
import Logging
import NIOCore
import Projections
import Scheduling
import Synchronization

/// Abuse limits on task definitions: every one refused with 422 naming the field (the task
/// count with 409), nothing recorded.
public struct TaskLimits: Sendable, Hashable {
    /// Tasks (not deleted) one namespace may hold.
    public var maxTasksPerNamespace: Int
    /// Characters of `action.url`.
    public var maxURLLength: Int
    /// Entries of `action.headers`.
    public var maxHeaders: Int
    /// Characters of one header value.
    public var maxHeaderValueLength: Int
    /// Characters of `action.body`.
    public var maxActionBody: Int

    public init(
        maxTasksPerNamespace: Int = 100_000, maxURLLength: Int = 2048, maxHeaders: Int = 64, maxHeaderValueLength: Int = 4096,
        maxActionBody: Int = 64 * 1024
    ) {
        self.maxTasksPerNamespace = maxTasksPerNamespace
        self.maxURLLength = maxURLLength
        self.maxHeaders = maxHeaders
        self.maxHeaderValueLength = maxHeaderValueLength
        self.maxActionBody = maxActionBody
    }
}

/// Settings of the HTTP API.
public struct APIConfiguration: Sendable {
    /// The largest request body accepted (413 above it).
    public var maxBodyBytes: Int
    /// Origins allowed to call the API from a browser (CORS); empty: CORS off. `*` allows any.
    public var corsOrigins: [String]
    /// How often the event stream sends a heartbeat comment when nothing happens.
    public var heartbeat: Duration
    /// Whether `/v1` asks for a token even before any token is issued.
    public var requireAuth: Bool
    /// Whether `/metrics` asks for a token (any role) when tokens are required.
    public var protectMetrics: Bool
    /// The addresses webhook URLs may point at, checked when a task is saved.
    public var addressPolicy: AddressPolicy
    /// Limits on what a task may hold.
    public var limits: TaskLimits
    /// Requests per second each caller (a token, or a client address without one) may make
    /// on `/v1`, and how many at once beyond that; nil: no limit.
    public var rateLimit: (perSecond: Double, burst: Int)?
    /// Seals secret header values and signing secrets as requests are read; the executor
    /// must open with the same key. The default, a random key, suits only a test.
    public var secrets: SecretBox

    public init(
        maxBodyBytes: Int = 256 * 1024, corsOrigins: [String] = [], heartbeat: Duration = .seconds(15),
        requireAuth: Bool = false, protectMetrics: Bool = false, addressPolicy: AddressPolicy = AddressPolicy(),
        rateLimit: (perSecond: Double, burst: Int)? = nil, limits: TaskLimits = TaskLimits(),
        secrets: SecretBox = .ephemeral()
    ) {
        self.secrets = secrets
        self.limits = limits
        self.rateLimit = rateLimit
        self.addressPolicy = addressPolicy
        self.maxBodyBytes = maxBodyBytes
        self.corsOrigins = corsOrigins
        self.heartbeat = heartbeat
        self.requireAuth = requireAuth
        self.protectMetrics = protectMetrics
    }
}

/// What `/readyz` and `/metrics` know about the rest of the process.
public final class ServerStatus: Sendable {
    private let schedulerState = Mutex(false)
    private let dispatcherState = Mutex<RunDispatcher?>(nil)
    private let assignmentState = Mutex<ShardAssignment?>(nil)

    /// The node's shards (a cluster node's; a single node holds its one shard).
    public var assignment: ShardAssignment? {
        get { assignmentState.withLock { $0 } }
        set { assignmentState.withLock { $0 = newValue } }
    }

    public init() {}

    /// Whether the scheduler loop is running.
    public var schedulerRunning: Bool {
        get { schedulerState.withLock { $0 } }
        set { schedulerState.withLock { $0 = newValue } }
    }

    /// The dispatcher, for its in-flight count.
    public var dispatcher: RunDispatcher? {
        get { dispatcherState.withLock { $0 } }
        set { dispatcherState.withLock { $0 = newValue } }
    }
}

/// The HTTP API: routes requests to handlers, turns every error into problem+json, counts
/// requests. Handlers decide through the ``CommandService`` (the only write path) and read the
/// ``ProjectionStore``.
public struct API: Sendable {
    let journal: any Journal
    let store: ProjectionStore
    let commands: CommandService
    let access: AccessService
    let clock: any WallClock
    let metrics: ServerMetrics
    let status: ServerStatus
    let configuration: APIConfiguration
    let routes: [Route]
    let limiter: RateLimiter?
    let quota = CreationQuota()

    public init(
        journal: any Journal, store: ProjectionStore, commands: CommandService, clock: any WallClock,
        metrics: ServerMetrics, status: ServerStatus, configuration: APIConfiguration = APIConfiguration()
    ) {
        self.journal = journal
        self.store = store
        self.commands = commands
        self.access = AccessService(journal: journal, store: store, clock: clock)
        self.clock = clock
        self.metrics = metrics
        self.status = status
        self.configuration = configuration
        self.routes = API.table + API.tokenRoutes + API.statsRoutes + API.uiRoutes
        self.limiter = configuration.rateLimit.map { RateLimiter(rate: $0.perSecond, burst: $0.burst) }
    }

    /// The responder to give a Hummingbird `Application`.
    public var responder: APIResponder { APIResponder(api: self) }

    /// Answers one request: never throws; unexpected errors become a logged 500.
    func handle(_ request: Request, context: APIRequestContext) async -> (route: String, response: Response) {
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        guard let (route, parameters) = match(segments) else {
            var problem = Problem.notFound("no resource at \(request.uri.path)")
            if segments.first == "v1" {
                do { try rateLimit("v1/unmatched", token: nil, context: context) } catch let limited as Problem { problem = limited } catch {}
            }
            return ("unmatched", problemResponse(problem, request: request, context: context))
        }
        if request.method == .options, !configuration.corsOrigins.isEmpty {
            return (route.template, preflight(request, route: route))
        }
        guard let handler = route.handlers[request.method] ?? (request.method == .head ? route.handlers[.get] : nil) else {
            do { try rateLimit(route.template, token: nil, context: context) } catch let limited as Problem {
                return (route.template, problemResponse(limited, request: request, context: context))
            } catch {}
            let allowed = route.allowed
            var headers = HTTPFields()
            headers[.allow] = allowed
            return (route.template, problemResponse(Problem(
                .methodNotAllowed, code: "method-not-allowed", title: "Method not allowed",
                detail: "\(request.method) is not allowed on \(route.template); allowed: \(allowed)", headers: headers
            ), request: request, context: context))
        }
        do {
            guard let permission = permission(route, request.method) else {
                return (route.template, try await handler(self, request, parameters, context))
            }
            let caller: Caller
            do {
                caller = try authenticate(request, needing: permission)
            } catch {
                // Refused requests count against the client address: guessing tokens is limited too.
                try rateLimit(route.template, token: nil, context: context)
                throw error
            }
            try rateLimit(route.template, token: caller.token?.id, context: context)
            let response = try await API.$caller.withValue(caller) { try await handler(self, request, parameters, context) }
            return (route.template, response)
        } catch {
            return (route.template, problemResponse(problem(for: error, context: context), request: request, context: context))
        }
    }

    /// Takes one request from the caller's bucket (its token, else its client address) for
    /// `/v1` routes; throws 429 when the bucket is empty.
    private func rateLimit(_ template: String, token: String?, context: APIRequestContext) throws {
        guard let limiter, template.hasPrefix("v1") else { return }
        let key = token.map { "token:\($0)" } ?? "address:\(context.remoteAddress?.ipAddress ?? "unknown")"
        guard let wait = limiter.take(key, now: clock.now()) else { return }
        metrics.rateLimited()
        let seconds = max(1, (wait.wholeMicroseconds + 999_999) / 1_000_000)
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        throw Problem(
            .tooManyRequests, code: "rate-limited", title: "Too many requests",
            detail: "this \(token == nil ? "client address" : "token") may make \(limiter.rate.formatted()) requests per second (bursts of \(Int(limiter.burst))); retry in \(seconds) s",
            headers: headers
        )
    }

    private func match(_ segments: [Substring]) -> (Route, [String: String])? {
        routeLoop: for route in routes where route.segments.count == segments.count {
            for (pattern, segment) in zip(route.segments, segments) where !pattern.hasPrefix(":") && pattern != segment {
                continue routeLoop
            }
            var parameters: [String: String] = [:]
            for (pattern, segment) in zip(route.segments, segments) where pattern.hasPrefix(":") {
                let text = String(segment)
                parameters[String(pattern.dropFirst())] = text.contains("%") ? text.removingPercentEncoding ?? text : text
            }
            return (route, parameters)
        }
        return nil
    }

    // MARK: - Errors

    /// The problem an error stands for.
    func problem(for error: any Error, context: APIRequestContext) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as DomainError:
            switch error.code {
            case .taskNotFound:
                return .notFound("no task has the id \(error.taskID)")
            case .invalidDefinition:
                return .invalid("schedule", error.message)
            default:
                return Problem(.conflict, code: error.code.rawValue, title: "The task's state does not allow this",
                               detail: error.message)
            }
        case let error as VersionMismatch:
            return Problem(.preconditionFailed, code: "version-mismatch", title: "The task has changed",
                           detail: error.description)
        case let error as JournalError:
            switch error.code {
            case .journalFull:
                return Problem(.init(code: 507, reasonPhrase: "Insufficient Storage"), code: "journal-full",
                               title: "The journal is full", detail: "\(error.message); nothing was recorded")
            case .closed, .readOnly, .locked:
                return Problem(.serviceUnavailable, code: "journal-unavailable", title: "The journal is not writable",
                               detail: error.message)
            case .unavailable:
                context.logger.warning("journal unavailable", metadata: ["error": "\(error)"])
                return Problem(.serviceUnavailable, code: "journal-unavailable", title: "The journal's database cannot be reached",
                               detail: "\(error.message); the command may or may not have been recorded: retry it with the same Idempotency-Key, or read the task back")
            default:
                context.logger.error("journal error", metadata: ["error": "\(error)"])
                return Problem(.internalServerError, code: "internal", title: "Internal error",
                               detail: "the journal failed; the error is logged")
            }
        case is NIOTooManyBytesError:
            return Problem(.contentTooLarge, code: "body-too-large", title: "The request body is too large",
                           detail: "request bodies are limited to \(configuration.maxBodyBytes) bytes")
        default:
            context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return Problem(.internalServerError, code: "internal", title: "Internal error",
                           detail: "an unexpected error occurred; it is logged with this request's id")
        }
    }

    func problemResponse(_ problem: Problem, request: Request, context: APIRequestContext) -> Response {
        var headers = problem.headers
        headers[.contentType] = "application/problem+json"
        if problem.status.code >= 500 {
            context.logger.warning("request failed", metadata: ["status": "\(problem.status.code)", "detail": "\(problem.detail)"])
        }
        return Response(status: problem.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: problem.document.bytes)))
    }

    // MARK: - CORS

    private func preflight(_ request: Request, route: Route) -> Response {
        var headers = HTTPFields()
        headers[.allow] = route.allowed
        headers[.accessControlAllowMethods] = route.allowed
        headers[.accessControlAllowHeaders] = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Almanac-Reason, Almanac-Actor, Last-Event-ID"
        headers[.accessControlMaxAge] = "600"
        return Response(status: .noContent, headers: headers)
    }

    /// Adds CORS headers to `response` when the request's origin is allowed.
    func withCORS(_ response: Response, request: Request) -> Response {
        guard !configuration.corsOrigins.isEmpty, let origin = request.headers[.origin] else { return response }
        guard configuration.corsOrigins.contains("*") || configuration.corsOrigins.contains(origin) else { return response }
        var response = response
        response.headers[.accessControlAllowOrigin] = configuration.corsOrigins.contains("*") ? "*" : origin
        response.headers[.accessControlExposeHeaders] = "ETag, Location, Idempotent-Replayed, WWW-Authenticate, Retry-After"
        response.headers.append(HTTPField(name: .vary, value: "Origin"))
        return response
    }
}

/// One route: a path template (`v1/tasks/:id`) and its handler per method.
struct Route: Sendable {
    typealias Handler = @Sendable (API, Request, [String: String], APIRequestContext) async throws -> Response
    let template: String
    let segments: [String]
    let handlers: [HTTPRequest.Method: Handler]

    init(_ template: String, _ handlers: [HTTPRequest.Method: Handler]) {
        self.template = template
        self.segments = template.split(separator: "/").map(String.init)
        self.handlers = handlers
    }

    /// The `Allow` header's value.
    var allowed: String {
        var methods = handlers.keys.map(\.rawValue)
        if handlers[.get] != nil { methods.append("HEAD") }
        return methods.sorted().joined(separator: ", ")
    }
}

/// Hands requests to the ``API`` and records each response in the metrics.
public struct APIResponder: HTTPResponder {
    public typealias Context = APIRequestContext
    let api: API

    public func respond(to request: Request, context: APIRequestContext) async throws -> Response {
        let started = api.clock.now()
        let (route, response) = await api.handle(request, context: context)
        api.metrics.request(
            route: route, method: request.method.rawValue, status: response.status.code, duration: api.clock.now() - started
        )
        return api.withCORS(response, request: request)
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
    static let almanacReason = HTTPField.Name("Almanac-Reason")!
    static let almanacActor = HTTPField.Name("Almanac-Actor")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
