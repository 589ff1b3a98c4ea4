/// The optimistic-concurrency condition an append states about its stream.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// Append whatever the stream's version is.
    case any
    /// The stream must not exist yet (version 0).
    case noStream
    /// The stream's current version must be exactly this (0 means it does not exist).
    case exactly(UInt64)

    /// Whether a stream currently at `version` satisfies the condition.
    public func isSatisfied(byCurrentVersion version: UInt64) -> Bool {
        switch self {
        case .any: true
        case .noStream: version == 0
        case .exactly(let expected): version == expected
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no stream"
        case .exactly(let version): "version \(version)"
        }
    }
}
