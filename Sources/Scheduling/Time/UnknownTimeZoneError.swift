/// A time zone identifier that the system's zone database does not know.
public struct UnknownTimeZoneError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The identifier as given.
    public let identifier: String

    /// Creates the error for an identifier that did not resolve.
    public init(identifier: String) { self.identifier = identifier }

    /// What went wrong and how to fix it.
    public var message: String {
        "unknown time zone \"\(identifier)\"; use an IANA identifier such as \"Europe/Lisbon\" or \"UTC\""
    }

    /// The message.
    public var description: String { message }
}
