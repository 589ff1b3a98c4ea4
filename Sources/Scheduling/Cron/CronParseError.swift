/// Why a cron expression was rejected: which field, the offending text, and what is allowed.
public struct CronParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of problem; extensible, so new codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// A stable identifier such as `out-of-range`, safe to show to clients and match on.
        public let rawValue: String

        /// Creates a code from its stable identifier.
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The stable identifier.
        public var description: String { rawValue }

        /// The expression is empty or only whitespace.
        public static let emptyExpression = Code("empty-expression")
        /// The expression has neither five nor six fields.
        public static let wrongFieldCount = Code("wrong-field-count")
        /// An `@` macro that is not one of the supported ones.
        public static let unknownMacro = Code("unknown-macro")
        /// Text where a number was expected.
        public static let badNumber = Code("bad-number")
        /// A number outside the field's range.
        public static let outOfRange = Code("out-of-range")
        /// An unknown month or weekday name.
        public static let badName = Code("bad-name")
        /// A step (`/n`) that is not a whole number within the field's span.
        public static let badStep = Code("bad-step")
        /// A range whose start is after its end.
        public static let badRange = Code("bad-range")
        /// Any other malformed text, such as an empty list element or a misplaced `?`.
        public static let badSyntax = Code("bad-syntax")
        /// A well-formed expression that can never fire, such as 30 February.
        public static let impossibleDate = Code("impossible-date")
    }

    /// The class of problem.
    public let code: Code
    /// The field at fault, or nil when the problem is the expression as a whole.
    public let field: CronField?
    /// The offending text (a field, an element of a list, or the whole expression).
    public let text: String
    /// What is wrong and what is allowed instead, written for the person who typed the expression.
    public let message: String

    /// Creates an error; the message should say what to write instead.
    public init(code: Code, field: CronField?, text: String, message: String) {
        self.code = code
        self.field = field
        self.text = text
        self.message = message
    }

    /// The message prefixed with the field name, e.g. `day-of-week: "8" is out of range; …`.
    public var description: String {
        guard let field else { return message }
        return "\(field.rawValue): \(message)"
    }
}
