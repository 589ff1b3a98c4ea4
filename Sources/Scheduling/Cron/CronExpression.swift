/// A parsed cron expression: five fields (minute hour day-of-month month day-of-week) or six
/// (a leading second field), or one of the `@` macros.
///
/// The dialect is described in `docs/schedules.md`. Parsing validates everything up front,
/// including whether the expression can ever fire, so a stored expression always has a next
/// occurrence (see `CronSchedule.next(after:)`).
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text the expression was parsed from, exactly as given.
    public let source: String

    /// The field bitsets the search walks.
    let rules: CronRules

    /// Parses `text`, throwing an error that names the field at fault and what it accepts.
    public init(_ text: String) throws(CronParseError) {
        self.source = text
        self.rules = try CronParser.parse(text)
    }

    /// Whether the hour field is `*` or `*/n`, so the expression follows elapsed time across
    /// daylight-saving changes instead of being treated as a fixed local time.
    public var followsElapsedTime: Bool { rules.hourIsWildcard }

    /// The source text.
    public var description: String { source }
}
