/// A parsed JSON document, kept as values so that request bodies can be checked strictly:
/// unknown fields and wrong types are named instead of ignored.
enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses `bytes` (RFC 8259), or throws ``JSONSyntaxError`` saying where and why the text
    /// stops being JSON. Objects with a repeated key are refused rather than guessed at.
    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.document()
    }

    /// The JSON type's name, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// A request body that is not JSON.
struct JSONSyntaxError: Error, Sendable {
    let detail: String
}
