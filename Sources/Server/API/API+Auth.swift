import Access
import Foundation
import Engine
import HTTPTypes
import Hummingbird
import Scheduling

/// Who is making the request being handled.
struct Caller: Sendable {
    /// The token that authenticated the request; nil when the API is open (no token issued
    /// and `--require-auth` not given).
    let token: AccessToken?

    /// The open API's caller.
    static let anonymous = Caller(token: nil)

    /// The only namespace the caller sees; nil for all.
    var namespace: String? { token?.namespace }

    /// Whether the caller may see a task in `namespace`.
    func sees(_ namespace: String) -> Bool { token?.sees(namespace) ?? true }

    /// The caller's role (admin when the API is open).
    var role: Role { token?.role ?? .admin }
}

extension API {
    /// The caller of the request being handled (set by ``handle(_:context:)``).
    @TaskLocal static var caller = Caller.anonymous

    /// What a request to `route` with `method` needs, or nil when it needs nothing (health,
    /// readiness, the UI's files, and metrics unless protected).
    func permission(_ route: Route, _ method: HTTPRequest.Method) -> Permission? {
        let template = route.template
        if template == "metrics" { return configuration.protectMetrics ? .read : nil }
        guard template.hasPrefix("v1/") else { return nil }
        if template.hasPrefix("v1/tokens") { return .manageTokens }
        if template == "v1/whoami" { return .read }
        switch method {
        case .get, .head, .options: return .read
        case .post where template == "v1/schedules/preview": return .read
        case .post where template.hasSuffix("/pause") || template.hasSuffix("/resume") || template.hasSuffix("/trigger"):
            return .operate
        default: return .write
        }
    }

    /// The caller of a request that needs `permission`: 401 without a valid token (once tokens
    /// exist, or with `requireAuth`), 403 when the token's role is short of it.
    func authenticate(_ request: Request, needing permission: Permission) throws -> Caller {
        let access = store.currentAccess
        let header = request.headers[.authorization]
        guard access.hasTokens || configuration.requireAuth || header != nil else { return .anonymous }
        guard let header else {
            throw Self.unauthorized("this server requires an API token: send Authorization: Bearer <token>", error: nil)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Self.unauthorized("the Authorization header must be Bearer <token>", error: "invalid_request")
        }
        guard let token = access.authenticate(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw Self.unauthorized("the token is not valid (unknown, revoked or mistyped)", error: "invalid_token")
        }
        guard token.role.allows(permission) else {
            throw Problem(
                .forbidden, code: "forbidden", title: "The token's role does not allow this",
                detail: "token \"\(token.name)\" has the role \(token.role.rawValue); this needs \(permission.minimumRole.rawValue)"
            )
        }
        return Caller(token: token)
    }

    static func unauthorized(_ detail: String, error: String?) -> Problem {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = error.map { "Bearer realm=\"almanac\", error=\"\($0)\"" } ?? "Bearer realm=\"almanac\""
        return Problem(.unauthorized, code: "unauthorized", title: "Authentication required", detail: detail, headers: headers)
    }
}
