public import HTTPTypes

/// An RFC 9457 problem: every 4xx and 5xx response of the API is one, as
/// `application/problem+json`.
public struct Problem: Error, Sendable {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// A stable code; the `type` member is `urn:almanac:problem:<code>`.
    public let code: String
    /// A short summary of the kind of problem.
    public let title: String
    /// What happened in this case, and what to do.
    public let detail: String
    /// For validation problems: each invalid field with its reason.
    public let invalidFields: [InvalidField]
    /// Extra headers (for example `Allow` on a 405).
    public let headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, title: String, detail: String,
        invalidFields: [InvalidField] = [], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.invalidFields = invalidFields
        self.headers = headers
    }

    /// A request whose fields break the rules (422), listing each field.
    static func invalid(_ fields: [InvalidField]) -> Problem {
        let names = fields.map(\.name).joined(separator: ", ")
        return Problem(
            .unprocessableContent, code: "validation", title: "The request has invalid fields",
            detail: "invalid: \(names)", invalidFields: fields
        )
    }

    static func invalid(_ name: String, _ reason: String) -> Problem {
        invalid([InvalidField(name: name, reason: reason)])
    }

    static func badRequest(_ detail: String) -> Problem {
        Problem(.badRequest, code: "bad-request", title: "The request cannot be read", detail: detail)
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, code: "not-found", title: "Not found", detail: detail)
    }

    /// The problem's JSON document.
    var document: JSONOut {
        var fields: [(String, JSONOut)] = [
            ("type", .string("urn:almanac:problem:\(code)")),
            ("title", .string(title)),
            ("status", .int(status.code)),
            ("detail", .string(detail)),
        ]
        if !invalidFields.isEmpty {
            fields.append(("invalidFields", .array(invalidFields.map {
                .object([("name", .string($0.name)), ("reason", .string($0.reason))])
            })))
        }
        return .object(fields)
    }
}
