import Access
import Engine
import HTTPTypes
import Hummingbird
import Scheduling

/// Token management (admin) and the caller's own identity.
extension API {
    static let tokenRoutes: [Route] = [
        Route("v1/tokens", [
            .post: { api, request, _, _ in try await api.createToken(request) },
            .get: { api, _, _, _ in api.listTokens() },
        ]),
        Route("v1/tokens/:id", [
            .get: { api, _, parameters, _ in try api.getToken(parameters) },
            .delete: { api, request, parameters, _ in try await api.revokeToken(request, parameters) },
        ]),
        Route("v1/whoami", [.get: { api, _, _, _ in api.whoami() }]),
    ]

    func createToken(_ request: Request) async throws -> Response {
        let body = try await readJSON(request)
        let fields = FieldReader()
        let object = fields.object(body, at: "", allowed: ["name", "role", "namespace"])
        let name = fields.required(fields.string(object?["name"], at: "name", maxLength: 64, allowEmpty: false), object?["name"], at: "name")
        let roleText = fields.required(fields.string(object?["role"], at: "role", maxLength: 16), object?["role"], at: "role")
        let role = roleText.flatMap(Role.init(rawValue:))
        if let roleText, role == nil { fields.fail("role", "\"\(roleText)\" is not a role; use viewer, operator or admin") }
        var namespace = fields.string(object?["namespace"], at: "namespace", maxLength: 63, allowEmpty: false)
        // A namespaced admin issues tokens for its own namespace only.
        if let own = API.caller.namespace {
            if let namespace, namespace != own {
                fields.fail("namespace", "this token manages namespace \"\(own)\" only")
            }
            namespace = own
        }
        guard fields.problems.isEmpty, let name, let role else { throw Problem.invalid(fields.problems) }
        do {
            let (token, text) = try await access.create(
                name: name, role: role, namespace: namespace, actor: try actor(request), reason: try reason(request)
            )
            metrics.command("token-create", result: "ok")
            var headers = HTTPFields()
            headers[.location] = "/v1/tokens/\(token.id)"
            headers[.cacheControl] = "no-store"
            var document = Self.tokenFields(token)
            document.append(("token", .string(text)))
            return json(.created, .object(document), headers: headers)
        } catch let error as AccessError {
            metrics.command("token-create", result: "refused")
            throw Self.problem(error)
        }
    }

    func listTokens() -> Response {
        let tokens = store.currentAccess.ordered.filter { API.caller.namespace == nil || $0.namespace == API.caller.namespace }
        return json(.ok, .object([("items", .array(tokens.map { .object(Self.tokenFields($0)) }))]))
    }

    func getToken(_ parameters: [String: String]) throws -> Response {
        json(.ok, .object(Self.tokenFields(try visibleToken(parameters))))
    }

    func revokeToken(_ request: Request, _ parameters: [String: String]) async throws -> Response {
        let token = try visibleToken(parameters)
        do {
            try await access.revoke(token.id, actor: try actor(request), reason: try reason(request))
            metrics.command("token-revoke", result: "ok")
        } catch let error as AccessError {
            metrics.command("token-revoke", result: "refused")
            throw Self.problem(error)
        }
        return Response(status: .noContent)
    }

    /// The caller: its token (never the secret) and whether the API asks for tokens.
    func whoami() -> Response {
        let required = store.currentAccess.hasTokens || configuration.requireAuth
        var fields: [(String, JSONOut)] = [("authRequired", .bool(required))]
        if let token = API.caller.token {
            fields.append(("token", .object(Self.tokenFields(token))))
        } else {
            fields.append(("token", .null))
        }
        fields.append(("role", .string(API.caller.role.rawValue)))
        fields.append(("namespace", .optional(API.caller.namespace)))
        return json(.ok, .object(fields))
    }

    /// The token an `:id` names, when the caller may see it (another namespace's: 404).
    private func visibleToken(_ parameters: [String: String]) throws -> AccessToken {
        let reference = parameters["id"] ?? ""
        // A token's full text in the path names its id (and is never repeated in an answer).
        let id = TokenText.id(of: reference) ?? reference
        guard let token = store.currentAccess.tokens[id], API.caller.namespace == nil || token.namespace == API.caller.namespace else {
            throw Problem.notFound(TokenText.id(of: reference) != nil ? "no token matches the token given" : "no token has the id \(id)")
        }
        return token
    }

    static func tokenFields(_ token: AccessToken) -> [(String, JSONOut)] {
        [
            ("id", .string(token.id)),
            ("name", .string(token.name)),
            ("role", .string(token.role.rawValue)),
            ("namespace", .optional(token.namespace)),
            ("active", .bool(token.isActive)),
            ("createdAt", .string(token.createdAt.rfc3339)),
            ("createdBy", .string(token.createdBy)),
            ("revokedAt", token.revokedAt.map { .string($0.rfc3339) } ?? .null),
        ]
    }

    static func problem(_ error: AccessError) -> Problem {
        switch error.code {
        case .invalid: .invalid(error.field, error.message)
        case .notFound: .notFound(error.message)
        case .conflict: Problem(.conflict, code: "token-conflict", title: "The tokens' state does not allow this", detail: error.message)
        }
    }
}
