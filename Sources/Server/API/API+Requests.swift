import Access
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Scheduling

/// Reading requests and writing responses.
extension API {
    static let jsonContentType = "application/json"

    /// The request body as JSON: 415 when it is not JSON, 413 when too large, 400 when malformed.
    func readJSON(_ request: Request) async throws -> JSONValue {
        if let type = request.headers[.contentType] {
            guard API.isJSON(mediaType: type) else {
                throw Problem(.unsupportedMediaType, code: "unsupported-media-type", title: "Unsupported media type",
                              detail: "send the body as application/json, not \(type)")
            }
        }
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("the request needs a JSON body") }
        do {
            return try JSONValue.parse(Array(buffer.readableBytesView))
        } catch {
            throw Problem.badRequest("the body is not valid JSON: \(error.detail)")
        }
    }

    /// Whether a `Content-Type` value names JSON: `application/json` or a `+json` type, in any
    /// case, with parameters and the spaces and tabs around the type ignored. Read as bytes:
    /// Foundation's trimming was 1.5 % of the server's time under `POST /v1/tasks`.
    static func isJSON(mediaType value: String) -> Bool {
        var type = value.utf8[...]
        if let semicolon = type.firstIndex(of: UInt8(ascii: ";")) { type = type[..<semicolon] }
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        while let first = type.first, blank(first) { type = type.dropFirst() }
        while let last = type.last, blank(last) { type = type.dropLast() }
        let lowered = type.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        return lowered.elementsEqual("application/json".utf8)
            || (lowered.count >= 5 && lowered.suffix(5).elementsEqual("+json".utf8))
    }

    func json(_ status: HTTPResponse.Status, _ document: JSONOut, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = API.jsonContentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document.bytes)))
    }

    /// Who is asking: the name of the token that authenticated the request; on an open API,
    /// the self-declared `Almanac-Actor` header, or `api`.
    func actor(_ request: Request) throws -> String {
        let declared = request.headers[.almanacActor]
        if let declared, !(1...128).contains(declared.count) {
            throw Problem.invalid("Almanac-Actor", "must be 1 to 128 characters")
        }
        if let token = API.caller.token {
            // Checked again once the request has arrived whole: a token revoked while a slow
            // client sent its body must not act.
            guard store.currentAccess.tokens[token.id]?.isActive == true else {
                throw API.unauthorized("the token was revoked while the request was being sent", error: "invalid_token")
            }
            return token.name
        }
        return declared ?? "api"
    }

    /// The `Almanac-Reason` header, recorded with the command's events.
    func reason(_ request: Request) throws -> String? {
        guard let reason = request.headers[.almanacReason] else { return nil }
        guard reason.count <= 1024 else { throw Problem.invalid("Almanac-Reason", "must be at most 1024 characters") }
        return reason.isEmpty ? nil : reason
    }

    /// The version an `If-Match` header names (`"3"`, `W/"3"`), nil for none or `*`.
    func ifMatch(_ request: Request) throws -> UInt64? {
        guard let value = request.headers[.ifMatch] else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return nil }
        let bare = trimmed.hasPrefix("W/") ? String(trimmed.dropFirst(2)) : trimmed
        guard bare.count >= 3, bare.hasPrefix("\""), bare.hasSuffix("\""), let version = UInt64(bare.dropFirst().dropLast()) else {
            throw Problem.invalid("If-Match", "must be an ETag of this API, such as \"3\"")
        }
        return version
    }

    func taskID(_ parameters: [String: String]) throws -> TaskID {
        let id = TaskID(parameters["id"] ?? "")
        guard id.isValid else { throw Problem.notFound("no task has the id \(id.rawValue)") }
        return id
    }

    /// A query parameter parsed as a whole number in `range`.
    func queryInteger(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters.get(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem.invalid(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func queryPosition(_ request: Request, _ name: String) throws -> UInt64 {
        guard let text = request.uri.queryParameters.get(name) else { return 0 }
        guard let number = UInt64(text), number <= UInt64(Int64.max) else {
            throw Problem.invalid(name, "must be a journal position: a whole number from 0 to \(Int64.max)")
        }
        return number
    }

    func queryInstant(_ request: Request, _ name: String) throws -> Instant? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let instant = Instant(rfc3339: text) else {
            throw Problem.invalid(name, "\"\(text)\" is not an RFC 3339 instant")
        }
        return instant
    }

    /// An opaque cursor: the base64url of `text`.
    static func cursor(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    func queryCursor(_ request: Request) throws -> String? {
        guard let text = request.uri.queryParameters.get("cursor") else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard !text.isEmpty, let data = Data(base64Encoded: base64), let decoded = String(data: data, encoding: .utf8), !decoded.isEmpty else {
            throw Problem.invalid("cursor", "is not a cursor this API returned")
        }
        return decoded
    }

    static func etag(_ version: UInt64) -> String { "\"\(version)\"" }
}
