/// Encoded as its source text; decoding parses again, so a stored expression stays exactly what
/// the user wrote and invalid text is reported with the parser's message.
extension CronExpression: Codable {
    /// Decodes from a single string, failing with the parse error's message if it is not valid.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// Encodes the source text as a single string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(source)
    }
}
