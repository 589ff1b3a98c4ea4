import Foundation

/// Encoded as `{"expression": "<cron text>", "timeZone": "<IANA identifier>"}`.
extension CronSchedule: Codable {
    private enum CodingKeys: String, CodingKey {
        case expression
        case timeZone
    }

    /// Decodes the expression and zone identifier, failing if either is not valid.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let expression = try container.decode(CronExpression.self, forKey: .expression)
        let identifier = try container.decode(String.self, forKey: .timeZone)
        do {
            try self.init(expression: expression, timeZoneIdentifier: identifier)
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .timeZone, in: container, debugDescription: error.description)
        }
    }

    /// Encodes the expression's source text and the zone identifier.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(expression, forKey: .expression)
        try container.encode(timeZoneIdentifier, forKey: .timeZone)
    }
}
